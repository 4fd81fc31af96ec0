package org.fhirresist.hapi;

import ca.uhn.fhir.rest.server.RestfulServer;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;

/** Starts the Spring context of the JPA server and serves it at {@code http://127.0.0.1:<port>/fhir}. */
public final class ServerMain {

	private static final Logger LOG = LoggerFactory.getLogger(ServerMain.class);

	private ServerMain() {}

	public static void main(String[] args) throws Exception {
		long started = System.nanoTime();
		ServerSettings settings = ServerSettings.fromSystemProperties();
		AnnotationConfigApplicationContext spring = new AnnotationConfigApplicationContext();
		spring.getBeanFactory().registerSingleton("serverSettings", settings);
		spring.register(FhirServerConfig.class);
		spring.refresh();
		spring.registerShutdownHook();

		Server jetty = new Server();
		ServerConnector connector = new ServerConnector(jetty);
		connector.setHost("127.0.0.1");
		connector.setPort(settings.port());
		jetty.addConnector(connector);
		ServletContextHandler context = new ServletContextHandler();
		context.setContextPath("/");
		ServletHolder fhir = new ServletHolder("fhir", spring.getBean(RestfulServer.class));
		fhir.setInitOrder(1);
		context.addServlet(fhir, "/fhir/*");
		jetty.setHandler(context);
		jetty.setStopAtShutdown(true);
		jetty.start();
		long millis = (System.nanoTime() - started) / 1_000_000;
		LOG.info("FHIR server ready at http://127.0.0.1:{}/fhir after {} ms", settings.port(), millis);
		jetty.join();
	}
}
