package io.github.kafkakit.spring;

import java.math.BigInteger;

import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.retrytopic.RetryTopicHeaders;
import org.springframework.kafka.support.KafkaHeaders;
import org.springframework.messaging.handler.annotation.Header;
import org.springframework.messaging.handler.annotation.Payload;

/**
 * Retrier is the listener of the main topic and, through Spring's
 * non-blocking retries, of its retry topics. It fails for the topics named
 * by --fail and prints each delivery with the attempts header as Spring's
 * conversion reads it, and the backoff and original timestamps as Spring's
 * own retry code reads them (BigInteger bytes). A record from a topic named
 * by --halt-on ends the process at once instead.
 */
public class Retrier {

	private final Main.Settings settings;

	public Retrier(Main.Settings settings) {
		this.settings = settings;
	}

	@KafkaListener(id = "retrier", topics = "#{@settings.topic()}", groupId = "#{@settings.group()}")
	public void onRecord(@Payload byte[] value,
			@Header(name = KafkaHeaders.RECEIVED_KEY, required = false) byte[] key,
			@Header(KafkaHeaders.RECEIVED_TOPIC) String topic,
			@Header(KafkaHeaders.RECEIVED_PARTITION) int partition,
			@Header(KafkaHeaders.OFFSET) long offset,
			@Header(name = RetryTopicHeaders.DEFAULT_HEADER_ATTEMPTS, required = false) Integer attempts,
			@Header(name = RetryTopicHeaders.DEFAULT_HEADER_BACKOFF_TIMESTAMP, required = false) byte[] due,
			@Header(name = RetryTopicHeaders.DEFAULT_HEADER_ORIGINAL_TIMESTAMP, required = false) byte[] original) {

		if (this.settings.haltsOn(topic)) {
			// A Spring instance that dies before it handles the record: no
			// commit, no shutdown, so that another consumer finishes it.
			Events.print(Events.obj("event", "halted", "topic", topic, "partition", partition, "offset", offset,
					"at", System.currentTimeMillis()));
			Runtime.getRuntime().halt(0);
		}
		boolean fail = this.settings.failsOn(topic);
		Events.print(Events.obj("event", fail ? "failed" : "handled", "topic", topic, "partition", partition,
				"offset", offset, "key", Events.b64(key), "value", Events.b64(value), "attempts", attempts,
				"backoff_timestamp", due == null ? null : new BigInteger(due).longValue(),
				"original_timestamp", original == null ? null : new BigInteger(original).longValue(),
				"at", System.currentTimeMillis()));
		if (fail) {
			throw new IllegalStateException("refused by the Spring listener in " + topic);
		}
	}

}
