package io.github.kafkakit.spring;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.springframework.context.annotation.AnnotationConfigApplicationContext;

/**
 * A Spring for Apache Kafka application that the Go interop tests drive:
 * one command a run, its events on standard output as JSON lines, until it
 * is sent SIGTERM (Spring then stops its containers and commits) or its
 * time runs out.
 *
 * <pre>
 * read-dlt --brokers B --topic T --group G
 *     a listener on the dead-letter topic T prints each record with the
 *     DLT_* headers as Spring's header mapping and conversion read them
 * dead-letter --brokers B --topic T[,T2...] --group G
 *     a listener on T that throws, with DefaultErrorHandler and a
 *     DeadLetterPublishingRecoverer at their defaults: each record goes to
 *     T-dlt after 10 deliveries; prints each delivery as the listener got it
 * retry --brokers B --topic T --group G --delay MS --retries N [--fail TOPICS] [--halt-on TOPICS]
 *     non-blocking retries (RetryTopicConfigurationBuilder): retry topics
 *     T-retry-MS, T-retry-2MS, ... (delays doubling), then T.dlq; the
 *     listener throws for records read from the topics named in --fail
 *     (comma-separated, "all" for every one) and prints each record it
 *     gets; one from a topic named in --halt-on ends the process at once
 *     (Runtime.halt: no commit), as a crash would
 * </pre>
 *
 * Every command also takes --max-seconds S (default 120), after which it
 * exits with status 3, so that no run outlives its test.
 */
public final class Main {

	private Main() {
	}

	public static void main(String[] args) throws Exception {
		if (args.length == 0) {
			usage("no command");
		}
		Settings s = Settings.parse(args[0], Arrays.copyOfRange(args, 1, args.length));
		Class<?> listener = switch (s.command()) {
			case "read-dlt" -> DltReader.class;
			case "dead-letter" -> DeadLetterer.class;
			case "retry" -> Retrier.class;
			default -> {
				usage("unknown command " + s.command());
				yield null;
			}
		};
		AnnotationConfigApplicationContext ctx = new AnnotationConfigApplicationContext();
		ctx.registerBean("settings", Settings.class, () -> s);
		ctx.register(KafkaConfig.class, listener);
		if (s.command().equals("retry")) {
			ctx.register(RetryConfig.class);
		}
		ctx.registerShutdownHook();
		ctx.refresh();
		Events.print(Events.obj("event", "started", "command", s.command()));
		Thread.sleep(s.maxSeconds() * 1000L);
		Events.print(Events.obj("event", "timeout"));
		ctx.close();
		System.exit(3);
	}

	static void usage(String why) {
		System.err.println("springinterop: " + why);
		System.err.println("usage: springinterop read-dlt|dead-letter|retry --brokers B --topic T --group G [--delay MS --retries N --fail TOPICS --halt-on TOPICS] [--max-seconds S]");
		System.exit(2);
	}

	/** Settings are the command's flags. */
	record Settings(String command, String brokers, String topic, String group, long delay, int retries,
			String fail, String haltOn, int maxSeconds) {

		static Settings parse(String command, String[] args) {
			Map<String, String> m = new HashMap<>();
			for (int i = 0; i + 1 < args.length; i += 2) {
				if (!args[i].startsWith("--")) {
					usage("expected a flag, got " + args[i]);
				}
				m.put(args[i].substring(2), args[i + 1]);
			}
			if (args.length % 2 != 0) {
				usage("flag " + args[args.length - 1] + " has no value");
			}
			for (String required : new String[] { "brokers", "topic", "group" }) {
				if (!m.containsKey(required)) {
					usage("--" + required + " is required");
				}
			}
			return new Settings(command, m.get("brokers"), m.get("topic"), m.get("group"),
					Long.parseLong(m.getOrDefault("delay", "1000")), Integer.parseInt(m.getOrDefault("retries", "2")),
					m.getOrDefault("fail", ""), m.getOrDefault("halt-on", ""),
					Integer.parseInt(m.getOrDefault("max-seconds", "120")));
		}

		/** topics is --topic split at commas. */
		public String[] topics() {
			return this.topic.split(",");
		}

		boolean failsOn(String topic) {
			return this.fail.equals("all") || Arrays.asList(this.fail.split(",")).contains(topic);
		}

		boolean haltsOn(String topic) {
			return Arrays.asList(this.haltOn.split(",")).contains(topic);
		}

	}

}
