// A tile's work budget: what turns a runaway (a huge halo, a pass that starts too late) into an
// error record instead of a dead process. The engine is wrapped so that each clustering pass is
// checked BEFORE it runs: its alert count against a cap, and the clock against a deadline. A pass
// that has started runs to its end (clustering is synchronous), so the deadline leaves room for one.
import type { ClusterEngine } from './tile-job.ts';

/** Most alerts one clustering pass may take: a tile and its full 5×5-tile halo (MAX_HALO_MARGIN 512 px) is 1,638,400. */
export const MAX_PASS_ALERTS = 1_638_400;

/** A budget refusal: permanent (a retry would do the same work). */
export class BudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

export interface BudgetOptions {
  /** Most alerts a pass may cluster (default MAX_PASS_ALERTS). */
  maxAlerts?: number;
  /** No pass starts after this time (clock units, ms). */
  deadline?: number;
  clock?: () => number;
}

/** The check run before each pass; throws a BudgetError. */
export function tileBudget(options: BudgetOptions = {}): (pass: { margin: number; alerts: number }) => void {
  const { maxAlerts = MAX_PASS_ALERTS, deadline = Infinity, clock = () => performance.now() } = options;
  return ({ margin, alerts }) => {
    if (alerts > maxAlerts) {
      throw new BudgetError(`${alerts.toLocaleString('en-US')} alerts in the halo of ${margin} px: more than the budget of ${maxAlerts.toLocaleString('en-US')} for one pass`);
    }
    if (clock() > deadline) throw new BudgetError(`time budget spent before the pass with a halo of ${margin} px (the tile would outrun its Lambda)`);
  };
}

/** `engine` with `check` run before every pass. */
export function budgetedEngine(engine: ClusterEngine, check: (pass: { margin: number; alerts: number }) => void): ClusterEngine {
  return {
    ...engine,
    // The pass (neighbours read, memo) goes through: without it the engine takes every neighbour
    // as read and redoes its climbs.
    clusterAlerts(alerts, params, margin, origin, pass) {
      check({ margin, alerts: alerts.length });
      return engine.clusterAlerts(alerts, params, margin, origin, pass);
    },
  };
}
