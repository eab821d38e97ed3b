package io.github.kafkakit.spring;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.annotation.EnableKafkaRetryTopic;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.retrytopic.RetryTopicConfiguration;
import org.springframework.kafka.retrytopic.RetryTopicConfigurationBuilder;
import org.springframework.kafka.retrytopic.TopicSuffixingStrategy;
import org.springframework.scheduling.TaskScheduler;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;

/**
 * RetryConfig sets up Spring's non-blocking retries the way a team that
 * shares retry topics with kafkakit would: topics named by their delay
 * (T-retry-1000), kafkakit's dead-letter suffix (.dlq), and the topics made
 * beforehand rather than by Spring.
 */
@Configuration
@EnableKafkaRetryTopic
public class RetryConfig {

	@Bean
	public RetryTopicConfiguration retryTopics(KafkaTemplate<byte[], byte[]> template, Main.Settings s) {
		long last = s.delay() << (s.retries() - 1);
		return RetryTopicConfigurationBuilder.newInstance()
			.exponentialBackoff(s.delay(), 2.0, last)
			.maxAttempts(s.retries() + 1)
			.setTopicSuffixingStrategy(TopicSuffixingStrategy.SUFFIX_WITH_DELAY_VALUE)
			.dltSuffix(".dlq")
			.doNotAutoCreateRetryTopics()
			.includeTopic(s.topic())
			.create(template);
	}

	@Bean
	public TaskScheduler taskScheduler() {
		return new ThreadPoolTaskScheduler();
	}

}
