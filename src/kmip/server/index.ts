// Development KMIP server: mutual TLS, objects in a 0600 file, fault injection.
export { DevKmipServer, type DevServerOptions } from './server';
export { listenControl, sendControl } from './control';
export { parseFault, type Fault } from './faults';
export { OBJECT_FILE } from './object-file';
