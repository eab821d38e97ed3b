package io.github.kafkakit.spring;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * Events writes one JSON object a line to standard output. Bytes are
 * base64, so that what the Go side compares is exactly what Kafka carried.
 */
final class Events {

	private Events() {
	}

	/** obj makes an ordered object of alternating names and values. */
	static Map<String, Object> obj(Object... kv) {
		Map<String, Object> m = new LinkedHashMap<>();
		for (int i = 0; i + 1 < kv.length; i += 2) {
			m.put((String) kv[i], kv[i + 1]);
		}
		return m;
	}

	/** record describes a consumer record as it was read: key, value and headers in order. */
	static Map<String, Object> record(String event, ConsumerRecord<byte[], byte[]> r) {
		List<Object> headers = new ArrayList<>();
		for (Header h : r.headers()) {
			headers.add(obj("key", h.key(), "value", b64(h.value())));
		}
		return obj("event", event, "topic", r.topic(), "partition", r.partition(), "offset", r.offset(),
				"timestamp", r.timestamp(), "key", b64(r.key()), "value", b64(r.value()), "headers", headers,
				"at", System.currentTimeMillis());
	}

	static String b64(byte[] b) {
		return b == null ? null : Base64.getEncoder().encodeToString(b);
	}

	static synchronized void print(Map<String, Object> m) {
		StringBuilder sb = new StringBuilder();
		write(sb, m);
		System.out.println(sb);
		System.out.flush();
	}

	private static void write(StringBuilder sb, Object v) {
		if (v == null) {
			sb.append("null");
		}
		else if (v instanceof Number || v instanceof Boolean) {
			sb.append(v);
		}
		else if (v instanceof Map<?, ?> m) {
			sb.append('{');
			boolean first = true;
			for (Map.Entry<?, ?> e : m.entrySet()) {
				if (!first) {
					sb.append(',');
				}
				first = false;
				string(sb, String.valueOf(e.getKey()));
				sb.append(':');
				write(sb, e.getValue());
			}
			sb.append('}');
		}
		else if (v instanceof List<?> l) {
			sb.append('[');
			for (int i = 0; i < l.size(); i++) {
				if (i > 0) {
					sb.append(',');
				}
				write(sb, l.get(i));
			}
			sb.append(']');
		}
		else {
			string(sb, v.toString());
		}
	}

	private static void string(StringBuilder sb, String s) {
		sb.append('"');
		for (int i = 0; i < s.length(); i++) {
			char c = s.charAt(i);
			switch (c) {
				case '"' -> sb.append("\\\"");
				case '\\' -> sb.append("\\\\");
				default -> {
					if (c < 0x20) {
						sb.append(String.format("\\u%04x", (int) c));
					}
					else {
						sb.append(c);
					}
				}
			}
		}
		sb.append('"');
	}

}
