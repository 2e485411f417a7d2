// AssemblyScript shared by the climb kernels (standard-climb.ts, spacetime-climb.ts): the stopping
// rules of core/meanshift/standard.ts (set by the host) and JavaScript's rounding.

export let handoff2: f64 = 0;
export let modelStop2: f64 = 0;
export let stall2: f64 = 0;
export let trust: f64 = 0;
export let trust2: f64 = 0;
export let crawl2: f64 = 0;
export let crawlBoost: f64 = 0;
/** Most plain steps one stride takes (spatial only). */
export let strideCap: f64 = 0;
export let maxSteps: i32 = 0;
export let polishIterations: i32 = 0;
export let polishStop2: f64 = 0;

export function setRules(handoff: f64, modelStop: f64, stall: f64, trustLength: f64, crawl: f64, boost: f64, cap: f64, steps: i32, iterations: i32, polishStop: f64): void {
  handoff2 = handoff * handoff;
  modelStop2 = modelStop * modelStop;
  stall2 = stall * stall;
  trust = trustLength;
  trust2 = trustLength * trustLength;
  crawl2 = crawl * crawl;
  crawlBoost = boost;
  strideCap = cap;
  maxSteps = steps;
  polishIterations = iterations;
  polishStop2 = polishStop * polishStop;
}

/** JavaScript's Math.round: the nearest integer, halves up. */
@inline export function roundJs(x: f64): f64 {
  const f = Math.floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}
