package org.fhirresist.hapi;

import ca.uhn.fhir.jpa.packages.IPackageInstallerSvc;
import ca.uhn.fhir.jpa.packages.PackageInstallOutcomeJson;
import ca.uhn.fhir.jpa.packages.PackageInstallationSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.ContextRefreshedEvent;

/**
 * Installs the FHIR NPM packages named in {@link ServerSettings#packages()} (files, never fetched
 * by the server) once the context is up, so the validator knows the profiles they define.
 */
@Configuration
public class PackageLoading implements ApplicationListener<ContextRefreshedEvent> {

	private static final Logger LOG = LoggerFactory.getLogger(PackageLoading.class);

	private final ServerSettings settings;
	private final IPackageInstallerSvc installer;
	private boolean done;

	public PackageLoading(ServerSettings settings, IPackageInstallerSvc installer) {
		this.settings = settings;
		this.installer = installer;
	}

	@Override
	public synchronized void onApplicationEvent(ContextRefreshedEvent event) {
		if (done) {
			return;
		}
		done = true;
		for (Path file : settings.packages()) {
			install(file);
		}
	}

	private void install(Path file) {
		byte[] contents;
		try {
			contents = Files.readAllBytes(file);
		} catch (IOException e) {
			throw new UncheckedIOException("cannot read FHIR package " + file, e);
		}
		PackageInstallationSpec spec = new PackageInstallationSpec()
				.setPackageContents(contents)
				.setInstallMode(PackageInstallationSpec.InstallModeEnum.STORE_AND_INSTALL)
				.setFetchDependencies(false);
		spec.addInstallResourceTypes("StructureDefinition", "CodeSystem", "ValueSet", "SearchParameter");
		PackageInstallOutcomeJson outcome = installer.install(spec);
		LOG.info("installed FHIR package {}: {}", file.getFileName(), outcome.getResourcesInstalled());
	}
}
