// s3rver 3.7.1 answers a PUT as soon as the request body has been read, before its file write has
// finished (stores/filesystem.js resolves on the hashing stream's 'finish', not the file's), and it
// writes in place. A reader woken by the object-created event, or reading during a redelivered
// overwrite, can then see a truncated object ("parquet file is too short"). Real S3 PUTs are atomic,
// so the local stack patches the store: write to a temporary file, then rename it into place, and
// only then answer. Imported for its side effect wherever s3rver is started.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | NodeJS.ReadableStream;
  metadata: unknown;
}
interface FilesystemStore {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
}

const require = createRequire(import.meta.url);
const store = require('s3rver/lib/stores/filesystem.js') as { prototype: FilesystemStore };

store.prototype.putObject = async function putObjectAtomically(this: FilesystemStore, object: S3rverObject) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  // Outside the bucket's folder, so listings never see a half-written file; same disk, so rename is atomic.
  const temporary = join(this.rootDirectory, '.partial', `${randomBytes(8).toString('hex')}`);
  await mkdir(dirname(objectPath), { recursive: true });
  await mkdir(dirname(temporary), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  const content = Buffer.isBuffer(object.content) ? [object.content] : object.content;
  await pipeline(
    content,
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    }),
    createWriteStream(temporary),
  );
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  await rename(temporary, objectPath);
  return { size, md5: digest };
};
