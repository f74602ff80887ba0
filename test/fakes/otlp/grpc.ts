/**
 * OTLP over gRPC: opentelemetry.proto.collector.{metrics,trace}.v1.
 * {Metrics,Trace}Service/Export, without generated stubs: the request
 * deserializer is the protobuf decode, the response serializer writes an
 * empty Export*ServiceResponse. Requests that do not normalise get
 * INVALID_ARGUMENT.
 */
import * as grpc from '@grpc/grpc-js';
import { fromMessage } from './decode.js';
import { PROTO } from './proto.js';
import type { Intake } from './receiver.js';
import type { Signal } from './types.js';

interface GrpcRequest {
  bytes: number;
  message: object;
}

const SIGNALS: readonly Signal[] = ['metrics', 'traces'];

/** A gRPC server bound to host:port (0: a random port) that hands what it receives to `intake`. */
export async function bindGrpc(intake: Intake, host: string, port: number): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  for (const signal of SIGNALS) {
    const { grpcPath, request, emptyResponse } = PROTO[signal];
    const method: grpc.MethodDefinition<GrpcRequest, object> = {
      path: grpcPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: () => {
        throw new Error('server side only');
      },
      requestDeserialize: (b: Buffer) => ({ bytes: b.length, message: request.decode(b) }),
      responseSerialize: () => emptyResponse,
      responseDeserialize: () => ({}),
    };
    const handler: grpc.handleUnaryCall<GrpcRequest, object> = (call, callback) => onExport(intake, signal, call, callback);
    server.addService({ Export: method }, { Export: handler });
  }
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port: bound };
}

function onExport(intake: Intake, signal: Signal, call: grpc.ServerUnaryCall<GrpcRequest, object>, callback: grpc.sendUnaryData<object>): void {
  const { message, bytes } = call.request;
  const entry = intake.log({ transport: 'grpc', signal, contentType: 'application/grpc', bytes, headers: metadataToHeaders(call.metadata) });
  try {
    intake.accept(entry, () => fromMessage(signal, message, 'grpc', entry.time));
  } catch (e) {
    entry.outcome = 'invalid';
    entry.respondedAt = Date.now();
    callback({ code: grpc.status.INVALID_ARGUMENT, details: String(e) });
    return;
  }
  intake.answer(entry, () => {
    if (entry.outcome === 'error') callback({ code: intake.errorGrpcCode, details: 'OtlpReceiver in mode error' });
    else callback(null, {});
  });
}

function metadataToHeaders(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = typeof v === 'string' ? v : v.toString('base64');
  return out;
}
