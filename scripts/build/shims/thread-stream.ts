// The daemon bundle's thread-stream, which pino loads only for transports (log shipping in a
// worker thread). ekmd logs to stdout and never uses one; the real module would load
// worker_threads at every start. Should a transport ever be asked for, it fails plainly.
class ThreadStream {
  constructor() {
    throw new Error('pino transports are not available in the ekmd daemon bundle');
  }
}

export = ThreadStream;
