// Lambda event shapes built from what the emulators give: an SQS batch event from received
// messages, and an S3 notification with keys URL-encoded the way S3 encodes them.
import type { Message } from '@aws-sdk/client-sqs';
import type { S3Event, SQSEvent, SQSRecord } from 'aws-lambda';
import { LOCAL_REGION } from './emulators.ts';

/** `arn:aws:sqs:<region>:000000000000:<name>` of a path-style queue URL. */
export function queueArnOf(queueUrl: string): string {
  const name = queueUrl.split('/').pop();
  return `arn:aws:sqs:${LOCAL_REGION}:000000000000:${name}`;
}

/** The event Lambda's SQS poller would hand the function for these messages. */
export function sqsEventOf(messages: readonly Message[], queueUrl: string): SQSEvent {
  const arn = queueArnOf(queueUrl);
  return {
    Records: messages.map(
      (m): SQSRecord => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body ?? '',
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
          SenderId: m.Attributes?.SenderId ?? '000000000000',
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: arn,
        awsRegion: LOCAL_REGION,
      }),
    ),
  };
}

/** S3 writes object keys into events URL-encoded, with `+` for spaces and `/` kept. */
export function encodeS3EventKey(key: string): string {
  return key
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/%20/g, '+'))
    .join('/');
}

/** One S3 notification event for one created object (S3 sends one record per event). */
export function s3EventOf(bucket: string, key: string, size: number, eventName = 'ObjectCreated:Put'): S3Event {
  const now = new Date().toISOString();
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: LOCAL_REGION,
        eventTime: now,
        eventName,
        userIdentity: { principalId: 'local' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'local', 'x-amz-id-2': 'local' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'local',
          bucket: { name: bucket, ownerIdentity: { principalId: 'local' }, arn: `arn:aws:s3:::${bucket}` },
          object: { key: encodeS3EventKey(key), size, eTag: '', sequencer: Date.now().toString(16).toUpperCase() },
        },
      },
    ],
  };
}
