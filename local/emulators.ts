/// <reference path="./vendor.d.ts" />
// Starts and stops the three embedded AWS emulators the local stack runs on:
// s3rver (S3, with object-created events), fauxqs (SQS, with redrive to a DLQ) and dynalite (DynamoDB).
// With `dir`, results persist there (S3 files, DynamoDB leveldb); without it, state is thrown away.
// SQS stays in memory: fauxqs 2.4.1's SQLite persistence loses in-flight messages on
// ChangeMessageVisibility (checked on this machine), so queued work does not survive a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dynalite from 'dynalite';
import './s3rver-atomic-put.ts';
import S3rver from 's3rver';
import { buildApp } from 'fauxqs';
import { makeDir } from '../core/store/files.ts';

/** One S3 event-notification payload as s3rver emits it (the shape Lambda receives). */
export interface S3EventPayload {
  Records: {
    eventName: string;
    s3: { bucket: { name: string }; object: { key: string; size?: number } };
  }[];
}

export interface EmulatorPorts {
  s3: number;
  sqs: number;
  dynamodb: number;
}

export interface Emulators {
  ports: EmulatorPorts;
  endpoints: { s3: string; sqs: string; dynamodb: string };
  /** s3rver itself: subscribe to its 'event' emitter for S3 notifications. */
  s3: S3rver;
  /** Directory holding the persisted state (a temporary one when none was asked for). */
  dir: string;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Persist state here. Omitted: a temporary directory, deleted on stop. */
  dir?: string;
  /** 0 or omitted: a random free port. */
  ports?: Partial<EmulatorPorts>;
}

const HOST = '127.0.0.1';

/**
 * Dummy credentials of the local stack. s3rver only knows the key pair S3RVER/S3RVER; fauxqs and
 * dynalite accept anything, so one pair serves all three.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const temporary = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'glad-local-'));
  for (const sub of ['s3', 'dynamodb']) makeDir(join(dir, sub));

  const s3 = new S3rver({
    address: HOST,
    port: options.ports?.s3 ?? 0,
    silent: true,
    directory: join(dir, 's3'),
    // The SDK signs for the endpoint it was given; emulator-side signature checks add nothing locally.
    allowMismatchedSignatures: true,
  });
  // `silent` quiets s3rver's console transport only; its logger closes with the server, and a
  // request still finishing then made winston print "Attempt to write logs with no transports".
  (s3 as unknown as { logger: { silent: boolean } }).logger.silent = true;
  const s3Address = await s3.run();

  // fauxqs' app served by us: its startFauxqs() always binds 0.0.0.0, this listens on loopback only.
  const sqs = buildApp({ logger: false });
  const sqsAddress = await sqs.listen({ port: options.ports?.sqs ?? 0, host: HOST });
  const sqsPort = Number(new URL(sqsAddress).port);

  const dynamo = dynalite({ path: join(dir, 'dynamodb'), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(options.ports?.dynamodb ?? 0, HOST, () => resolve());
  });
  const dynamoPort = (dynamo.address() as AddressInfo).port;

  const ports = { s3: s3Address.port, sqs: sqsPort, dynamodb: dynamoPort };
  let stopped = false;
  return {
    ports,
    endpoints: {
      s3: `http://${HOST}:${ports.s3}`,
      sqs: `http://${HOST}:${ports.sqs}`,
      dynamodb: `http://${HOST}:${ports.dynamodb}`,
    },
    s3,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Idle keep-alive sockets of SDK clients would otherwise hold the servers open.
      const s3Http = (s3 as unknown as { httpServer?: Server }).httpServer;
      s3Http?.closeAllConnections();
      dynamo.closeAllConnections();
      await Promise.all([
        s3.close(),
        sqs.close(),
        new Promise<void>((resolve) => dynamo.close(() => resolve())),
      ]);
      if (temporary) rmSync(dir, { recursive: true, force: true });
    },
  };
}
