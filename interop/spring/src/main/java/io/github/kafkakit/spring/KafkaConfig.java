package io.github.kafkakit.spring;

import java.util.Map;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.jspecify.annotations.Nullable;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.annotation.EnableKafka;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.core.DefaultKafkaProducerFactory;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.core.ProducerFactory;
import org.springframework.kafka.listener.DeadLetterPublishingRecoverer;
import org.springframework.kafka.listener.DefaultErrorHandler;
import org.springframework.kafka.support.ProducerListener;

/**
 * KafkaConfig is the plain Spring setup every command shares: byte-array
 * (de)serializers, so that records pass unchanged, a template that prints
 * what it publishes, and the listener container factory. Only the
 * dead-letter command sets an error handler: DefaultErrorHandler with a
 * DeadLetterPublishingRecoverer, both at their defaults.
 */
@Configuration
@EnableKafka
public class KafkaConfig {

	@Bean
	public ConsumerFactory<byte[], byte[]> consumerFactory(Main.Settings s) {
		return new DefaultKafkaConsumerFactory<>(Map.of(
				ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, s.brokers(),
				ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
				ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
				ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
				ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000,
				ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1000));
	}

	@Bean
	public ProducerFactory<byte[], byte[]> producerFactory(Main.Settings s) {
		return new DefaultKafkaProducerFactory<>(Map.of(
				ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, s.brokers(),
				ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
				ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
				ProducerConfig.ACKS_CONFIG, "all"));
	}

	@Bean
	public KafkaTemplate<byte[], byte[]> kafkaTemplate(ProducerFactory<byte[], byte[]> pf) {
		KafkaTemplate<byte[], byte[]> t = new KafkaTemplate<>(pf);
		t.setProducerListener(new ProducerListener<>() {
			@Override
			public void onSuccess(ProducerRecord<byte[], byte[]> r, @Nullable RecordMetadata m) {
				if (m != null) {
					Events.print(Events.obj("event", "published", "topic", m.topic(), "partition", m.partition(),
							"offset", m.offset()));
				}
			}
		});
		return t;
	}

	@Bean
	public ConcurrentKafkaListenerContainerFactory<byte[], byte[]> kafkaListenerContainerFactory(
			ConsumerFactory<byte[], byte[]> cf, KafkaTemplate<byte[], byte[]> template, Main.Settings s) {
		ConcurrentKafkaListenerContainerFactory<byte[], byte[]> f = new ConcurrentKafkaListenerContainerFactory<>();
		f.setConsumerFactory(cf);
		if (s.command().equals("dead-letter")) {
			f.setCommonErrorHandler(new DefaultErrorHandler(new DeadLetterPublishingRecoverer(template)));
		}
		return f;
	}

}
