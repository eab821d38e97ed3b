package io.github.kafkakit.interop;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The Java client side of kafkakit's interop tests. Each command prints one
 * JSON object a line on standard output, which the Go tests read:
 *
 * <pre>
 * member  BOOTSTRAP TOPIC GROUP cooperative-sticky|range|consumer
 *     a KafkaConsumer group member: the classic protocol with that assignor,
 *     or the KIP-848 consumer protocol. It handles each record by printing
 *     it, and commits synchronously after each poll and before partitions
 *     are revoked, so that a graceful leave (standard input closed) or a
 *     rebalance hands over without a record read twice.
 *     {"event":"assignment","partitions":[0,2],"ms":...}
 *     {"event":"record","partition":0,"offset":3,"value":"...","ms":...}
 *     {"event":"left"}
 * read    BOOTSTRAP TOPIC read_committed|read_uncommitted MARKER
 *     reads every partition from the start until each has shown a record
 *     whose value is MARKER; prints the records before, then "done".
 *     {"partition":0,"offset":3,"value":"..."}  ...  {"event":"done"}
 * offsets BOOTSTRAP GROUP
 *     the group's committed offsets, through the Admin client.
 *     {"topic":"t","partition":0,"offset":12}
 * </pre>
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        switch (args[0]) {
            case "member" -> {
                need(args, 5);
                member(args[1], args[2], args[3], args[4]);
            }
            case "read" -> {
                need(args, 5);
                read(args[1], args[2], args[3], args[4]);
            }
            case "offsets" -> {
                need(args, 3);
                offsets(args[1], args[2]);
            }
            default -> usage();
        }
    }

    private static void need(String[] args, int n) {
        if (args.length != n) {
            usage();
        }
    }

    private static void usage() {
        System.err.println("usage: member BOOTSTRAP TOPIC GROUP cooperative-sticky|range|consumer"
                + " | read BOOTSTRAP TOPIC read_committed|read_uncommitted MARKER | offsets BOOTSTRAP GROUP");
        System.exit(2);
    }

    private static Properties consumerProps(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return p;
    }

    private static volatile boolean leaving;

    private static void member(String bootstrap, String topic, String group, String mode) {
        Properties p = consumerProps(bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        switch (mode) {
            case "consumer" -> p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
            case "cooperative-sticky", "range" -> {
                // As short as kafkakit's test members, so that a killed
                // member is noticed in seconds.
                p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000");
                p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
                p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, mode.equals("range")
                        ? RangeAssignor.class.getName() : CooperativeStickyAssignor.class.getName());
            }
            default -> usage();
        }
        Thread stdin = new Thread(Main::awaitStdinClosed, "stdin");
        stdin.setDaemon(true);
        stdin.start();
        TreeSet<Integer> owned = new TreeSet<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> tps) {
                    // The commit after the last poll may have been refused
                    // by a rebalance: commit what was handled before the
                    // partitions go.
                    Map<TopicPartition, OffsetAndMetadata> handled = new HashMap<>();
                    tps.forEach(tp -> handled.put(tp, new OffsetAndMetadata(c.position(tp))));
                    c.commitSync(handled);
                    disown(tps);
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> tps) {
                    disown(tps); // already someone else's: nothing to commit
                }

                private void disown(Collection<TopicPartition> tps) {
                    tps.forEach(tp -> owned.remove(tp.partition()));
                    printAssignment(owned);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> tps) {
                    tps.forEach(tp -> owned.add(tp.partition()));
                    printAssignment(owned);
                }
            });
            while (!leaving) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
                    print("{\"event\":\"record\",\"partition\":" + r.partition() + ",\"offset\":" + r.offset()
                            + ",\"value\":" + quote(r.value()) + ",\"ms\":" + System.currentTimeMillis() + "}");
                }
                try {
                    c.commitSync();
                } catch (RebalanceInProgressException e) {
                    // Committed by onPartitionsRevoked if the partitions
                    // move, or by the commit after the next poll.
                }
            }
        }
        print("{\"event\":\"left\"}");
    }

    private static void printAssignment(TreeSet<Integer> owned) {
        print("{\"event\":\"assignment\",\"partitions\":" + owned + ",\"ms\":" + System.currentTimeMillis() + "}");
    }

    /** Sets leaving once standard input ends: the Go test's way to ask for a graceful leave. */
    private static void awaitStdinClosed() {
        InputStream in = System.in;
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) >= 0) {
                // Only the end matters.
            }
        } catch (IOException e) {
            // Treated as the end.
        }
        leaving = true;
    }

    private static void read(String bootstrap, String topic, String isolation, String marker) {
        Properties p = consumerProps(bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic)) {
                tps.add(new TopicPartition(topic, pi.partition()));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            TreeSet<Integer> done = new TreeSet<>();
            while (done.size() < tps.size()) {
                if (System.nanoTime() > deadline) {
                    System.err.println("read: no marker within 120s on partitions other than " + done);
                    System.exit(1);
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
                    if (done.contains(r.partition())) {
                        continue;
                    }
                    if (marker.equals(new String(r.value(), StandardCharsets.UTF_8))) {
                        done.add(r.partition());
                        continue;
                    }
                    print("{\"partition\":" + r.partition() + ",\"offset\":" + r.offset()
                            + ",\"value\":" + quote(r.value()) + "}");
                }
            }
        }
        print("{\"event\":\"done\"}");
    }

    private static void offsets(String bootstrap, String group) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(p)) {
            Map<TopicPartition, OffsetAndMetadata> offsets =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(60, TimeUnit.SECONDS);
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
                print("{\"topic\":" + quote(e.getKey().topic().getBytes(StandardCharsets.UTF_8))
                        + ",\"partition\":" + e.getKey().partition() + ",\"offset\":" + e.getValue().offset() + "}");
            }
        }
    }

    private static synchronized void print(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /** Quotes bytes read as UTF-8 as a JSON string. */
    private static String quote(byte[] b) {
        if (b == null) {
            return "null";
        }
        String s = new String(b, StandardCharsets.UTF_8);
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (ch < 0x20) {
                        out.append(String.format("\\u%04x", (int) ch));
                    } else {
                        out.append(ch);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
