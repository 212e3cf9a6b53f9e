// Start @firestore-emulator/server on the port given as the first argument.
// The acehooks local stack runs this file when FIRESTORE_EMULATOR_HOST is unset.
const { FirestoreServer } = require('@firestore-emulator/server');

const port = Number(process.argv[2] || 8080);
const server = new FirestoreServer();

// FirestoreServer.start binds 0.0.0.0; the local stack serves this machine only, so bind loopback.
const bindAsync = server.server.bindAsync.bind(server.server);
server.server.bindAsync = (address, credentials, callback) =>
  bindAsync(address.replace(/^0\.0\.0\.0:/, '127.0.0.1:'), credentials, callback);

server.start(port).then(
  () => console.log(`firestore emulator listening on 127.0.0.1:${port}`),
  (error) => {
    console.error(`firestore emulator failed to start on port ${port}: ${error}`);
    process.exit(1);
  },
);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
