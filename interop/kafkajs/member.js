// A kafkajs consumer group member with kafkajs's default assigner
// (RoundRobinAssigner), as the NestJS module this project started from
// runs. Prints one JSON line per event on stdout:
//   {"event":"join","leader":true,"memberId":"...","assignment":{"topic":[0,2]}}
//   {"event":"message","partition":0,"offset":"3","value":"..."}
//   {"event":"left"}
// It leaves the group (a clean disconnect, offsets committed) when its
// stdin closes.
//
// usage: node member.js <broker> <topic> <group>
const { Kafka, logLevel } = require('kafkajs');

const [broker, topic, groupId] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'interop-kafkajs', brokers: [broker], logLevel: logLevel.ERROR });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

async function main() {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 500 });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
    out({ event: 'join', leader: payload.isLeader, memberId: payload.memberId, protocol: payload.groupProtocol, assignment: payload.memberAssignment }));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) =>
      out({ event: 'message', partition, offset: message.offset, value: message.value.toString() }),
  });
  let leaving = false;
  const leave = async () => {
    if (leaving) return;
    leaving = true;
    await consumer.disconnect();
    out({ event: 'left' });
    process.exit(0);
  };
  process.stdin.on('end', leave);
  process.stdin.on('close', leave);
  process.stdin.resume();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
