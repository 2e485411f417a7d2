/// <reference path="../local/vendor.d.ts" />
// Emulators for the pipeline tests: dynalite (DynamoDB) and s3rver (S3) on 127.0.0.1, random ports,
// state in a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import '../local/s3rver-atomic-put.ts';
import S3rver from 's3rver';
import { LEDGER_TABLE_DEFINITION } from '../core/store/ledger.ts';

export const REGION = 'us-east-1';
/** s3rver accepts only this key pair; dynalite accepts anything. */
export const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface Dynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  createTable(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<Dynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint,
    client,
    doc,
    async createTable(name) {
      await client.send(new CreateTableCommand({ TableName: name, ...LEDGER_TABLE_DEFINITION }));
      // dynalite creates tables asynchronously even with createTableMs 0: wait for ACTIVE.
      for (let i = 0; i < 200; i++) {
        const out = await client.send(new DescribeTableCommand({ TableName: name }));
        if (out.Table?.TableStatus === 'ACTIVE') return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`table ${name} did not become ACTIVE`);
    },
    async stop() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface S3Emulator {
  endpoint: string;
  server: S3rver;
  stop(): Promise<void>;
}

export async function startS3rver(buckets: string[]): Promise<S3Emulator> {
  const directory = mkdtempSync(join(tmpdir(), 'glad-s3rver-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    allowMismatchedSignatures: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    server,
    async stop() {
      (server as unknown as { httpServer?: Server }).httpServer?.closeAllConnections();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Points this process's environment, as the handlers read it (AWS endpoints and credentials, SST links), at the emulators. */
export function setHandlerEnv(s3: S3Emulator, dynamo: Dynamo, names: { bucket: string; table: string }): void {
  Object.assign(process.env, handlerEnv(s3, dynamo, names));
}

/** The environment a handler reads (AWS endpoints and credentials, SST links), pointed at the emulators. */
export function handlerEnv(s3: S3Emulator, dynamo: Dynamo, names: { bucket: string; table: string }): Record<string, string> {
  return {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    SST_RESOURCE_App: JSON.stringify({ name: 'glad-clusters', stage: 'test' }),
    SST_RESOURCE_Results: JSON.stringify({ name: names.bucket }),
    SST_RESOURCE_Ledger: JSON.stringify({ name: names.table }),
  };
}
