package io.github.kafkakit.spring;

import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.support.KafkaHeaders;
import org.springframework.messaging.handler.annotation.Header;
import org.springframework.messaging.handler.annotation.Payload;

/**
 * DltReader reads a dead-letter topic the way a Spring application does:
 * every DLT_* value comes through Spring's header mapping and its
 * conversion of header bytes to the parameter's type, none is decoded here.
 */
public class DltReader {

	@KafkaListener(id = "dlt-reader", topics = "#{@settings.topic()}", groupId = "#{@settings.group()}")
	public void onDeadLetter(@Payload byte[] value,
			@Header(name = KafkaHeaders.RECEIVED_KEY, required = false) byte[] key,
			@Header(KafkaHeaders.RECEIVED_PARTITION) int partition,
			@Header(KafkaHeaders.OFFSET) long offset,
			@Header(KafkaHeaders.DLT_ORIGINAL_TOPIC) String originalTopic,
			@Header(KafkaHeaders.DLT_ORIGINAL_PARTITION) int originalPartition,
			@Header(KafkaHeaders.DLT_ORIGINAL_OFFSET) long originalOffset,
			@Header(KafkaHeaders.DLT_ORIGINAL_TIMESTAMP) long originalTimestamp,
			@Header(KafkaHeaders.DLT_ORIGINAL_TIMESTAMP_TYPE) String originalTimestampType,
			@Header(KafkaHeaders.DLT_ORIGINAL_CONSUMER_GROUP) String originalGroup,
			@Header(KafkaHeaders.DLT_EXCEPTION_FQCN) String exceptionClass,
			@Header(name = KafkaHeaders.DLT_EXCEPTION_CAUSE_FQCN, required = false) String causeClass,
			@Header(KafkaHeaders.DLT_EXCEPTION_MESSAGE) String exceptionMessage) {

		Events.print(Events.obj("event", "dead-letter", "partition", partition, "offset", offset,
				"key", Events.b64(key), "value", Events.b64(value),
				"original_topic", originalTopic, "original_partition", originalPartition,
				"original_offset", originalOffset, "original_timestamp", originalTimestamp,
				"original_timestamp_type", originalTimestampType, "original_consumer_group", originalGroup,
				"exception_fqcn", exceptionClass, "exception_cause_fqcn", causeClass,
				"exception_message", exceptionMessage));
	}

}
