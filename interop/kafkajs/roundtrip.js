// Produces to one topic and consumes another with kafkajs, the client the
// NestJS module this project started from uses. Prints one JSON line with
// what it consumed.
//
// usage: node roundtrip.js <broker> <produce-topic> <consume-topic> <expect-count>
const { Kafka, logLevel } = require('kafkajs');

const [broker, produceTopic, consumeTopic, expect] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'interop', brokers: [broker], logLevel: logLevel.ERROR });

async function main() {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: produceTopic,
    messages: [
      { key: 'user-123', value: JSON.stringify({ userId: '123', type: 'user_created' }), headers: { source: 'kafkajs' } },
      { key: 'user-124', value: 'plain text' },
    ],
  });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: 'interop-kafkajs' });
  await consumer.connect();
  await consumer.subscribe({ topic: consumeTopic, fromBeginning: true });
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${seen.length} messages`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({
          key: message.key && message.key.toString(),
          value: message.value && message.value.toString(),
          headers: Object.fromEntries(Object.entries(message.headers || {}).map(([k, v]) => [k, v.toString()])),
        });
        if (seen.length >= Number(expect)) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  console.log(JSON.stringify(seen));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
