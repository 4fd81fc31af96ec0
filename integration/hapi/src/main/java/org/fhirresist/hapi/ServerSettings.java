package org.fhirresist.hapi;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the server is told at start, from system properties (set by the {@code start} script).
 *
 * <ul>
 *   <li>{@code hapi.port}: loopback port to listen on (required);
 *   <li>{@code hapi.db.url}: JDBC URL of the H2 database (default: a private in-memory database);
 *   <li>{@code hapi.validation.requests}: {@code true} turns on request validation (default false);
 *   <li>{@code hapi.packages}: comma-separated FHIR NPM package files ({@code .tgz}) whose
 *       conformance resources the validator should know (default none).
 * </ul>
 */
public record ServerSettings(int port, String dbUrl, boolean validateRequests, List<Path> packages) {

	public static ServerSettings fromSystemProperties() {
		String port = System.getProperty("hapi.port");
		if (port == null || port.isBlank()) {
			throw new IllegalArgumentException("hapi.port is not set");
		}
		String dbUrl = System.getProperty("hapi.db.url", "jdbc:h2:mem:fhir_resist;DB_CLOSE_DELAY=-1");
		boolean validate = Boolean.parseBoolean(System.getProperty("hapi.validation.requests", "false"));
		List<Path> packages = new ArrayList<>();
		for (String item : System.getProperty("hapi.packages", "").split(",")) {
			if (!item.isBlank()) {
				packages.add(Path.of(item.trim()));
			}
		}
		return new ServerSettings(Integer.parseInt(port.trim()), dbUrl, validate, List.copyOf(packages));
	}
}
