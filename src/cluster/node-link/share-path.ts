// Where a node's share server answers, in a module of its own: the client needs the path
// without loading the server (and node:https with it) on a boot's early path.
export const SHARE_PATH = '/v1/share';
