// The files of a node's stateDir, named in one place: the daemon writes them, ekmctl and
// the dev tools read them. The stateDir is 0700; what each file holds decides its own mode.

/** The store (SQLite, WAL) when the cluster state is kept on the node. */
export const STORE_FILE = 'ekmd.db';
/** The sealing root: 32 random bytes (0600), unless systemd passes a credential. */
export const SEAL_KEY_FILE = 'seal.key';
/** On etcd: the cluster store this node joined (prefix, endpoints, TLS file paths). */
export const JOINED_STORE_FILE = 'store.json';
/** This node's identity in the cluster's node records: its UUID (0600). */
export const NODE_FILE = 'node.json';
/** flock'ed by the running ekmd: one daemon per stateDir. */
export const LOCK_FILE = 'ekmd.lock';
/** The API's self-signed certificate (0644), made when the config names none. */
export const API_CERT_FILE = 'api-tls.crt';
/** Its private key, sealed under the sealing root (0600). */
export const API_SEALED_KEY_FILE = 'api-tls.key.sealed';
/** The cluster sealing key's generations this node holds, each sealed under seal.key (0600). */
export const CLUSTER_SEAL_FILE = 'cluster-seal.json';
/** This node's X25519 private key (grants are wrapped to it), sealed under seal.key (0600). */
export const NODE_SEALING_KEY_FILE = 'node-sealing.key.sealed';
/** This node's certificate for the links between nodes (0644), pinned in its node record. */
export const NODE_LINK_CERT_FILE = 'node-link.crt';
/** Its private key, sealed under seal.key (0600). */
export const NODE_LINK_SEALED_KEY_FILE = 'node-link.key.sealed';
