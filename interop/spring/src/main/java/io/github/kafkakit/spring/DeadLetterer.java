package io.github.kafkakit.spring;

import org.apache.kafka.clients.consumer.ConsumerRecord;

import org.springframework.kafka.annotation.KafkaListener;

/**
 * DeadLetterer is a listener that refuses every record, so that the
 * container's DefaultErrorHandler retries it and its
 * DeadLetterPublishingRecoverer publishes it to T-dlt with Spring's
 * headers. It prints each delivery as it received it.
 */
public class DeadLetterer {

	@KafkaListener(id = "dead-letterer", topics = "#{@settings.topics()}", groupId = "#{@settings.group()}")
	public void onRecord(ConsumerRecord<byte[], byte[]> r) {
		Events.print(Events.record("seen", r));
		throw new IllegalStateException("refused by the Spring listener: offset " + r.offset());
	}

}
