package org.fhirresist.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.batch2.jobs.export.BulkDataExportProvider;
import ca.uhn.fhir.batch2.maintenance.JobMaintenanceServiceImpl;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.binary.api.IBinaryStorageSvc;
import ca.uhn.fhir.jpa.binstore.MemoryBinaryStorageSvcImpl;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.PackageLoaderConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.JpaSystemProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.jpa.searchparam.submit.config.SearchParamSubmitterConfig;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.jpa.subscription.submit.config.SubscriptionSubmitterConfig;
import ca.uhn.fhir.narrative2.NullNarrativeGenerator;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.IncomingRequestAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.interceptor.RequestValidatingInterceptor;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import ca.uhn.fhir.validation.IValidatorModule;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import jakarta.persistence.EntityManagerFactory;
import java.util.List;
import java.util.Properties;
import javax.sql.DataSource;
import org.apache.commons.dbcp2.BasicDataSource;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;
import org.springframework.transaction.annotation.EnableTransactionManagement;

/**
 * The JPA server as a hospital would run it: FHIR R4, client-assigned ids allowed (alphanumeric,
 * as HAPI's default), versioned updates with If-Match, referential integrity on write, ETags,
 * JSON by default, request validation when {@link ServerSettings#validateRequests()} is set, and
 * FHIR Bulk Data export ({@code $export} at system, Patient and Group level, run as Batch2 jobs by
 * {@link JpaBatch2Config} and {@link Batch2JobsConfig}, files kept as Binary resources).
 */
@Configuration
@EnableTransactionManagement
@Import({
	JpaR4Config.class,
	HapiJpaConfig.class,
	PackageLoaderConfig.class,
	JpaBatch2Config.class,
	Batch2JobsConfig.class,
	SubscriptionSubmitterConfig.class,
	SubscriptionChannelConfig.class,
	SearchParamSubmitterConfig.class,
	ThreadPoolFactoryConfig.class,
	PackageLoading.class
})
public class FhirServerConfig {

	@Bean
	public JpaStorageSettings jpaStorageSettings() {
		JpaStorageSettings settings = new JpaStorageSettings();
		settings.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ALPHANUMERIC);
		settings.setEnforceReferentialIntegrityOnWrite(true);
		settings.setEnforceReferentialIntegrityOnDelete(true);
		settings.setAllowExternalReferences(false);
		settings.setDeleteEnabled(true);
		// Searches are cached for the same minute by default: tests that write and then read at once
		// must see their own writes, as a clinician's next request must.
		settings.setReuseCachedSearchResultsForMillis(null);
		// Bulk Data export: this server runs the export jobs itself; the files (Binary resources)
		// are removed two hours after the job, as HAPI's JPA starter keeps them.
		settings.setEnableTaskBulkExportJobExecution(true);
		settings.setBulkExportFileRetentionPeriodHours(2);
		return settings;
	}

	/**
	 * Batch2 maintenance, which moves a job (a bulk export) from one step to the next, every 5 s
	 * instead of HAPI's minute: a small export is ready in seconds rather than minutes.
	 */
	@Bean
	public static BeanPostProcessor batch2MaintenanceEveryFiveSeconds() {
		return new BeanPostProcessor() {
			@Override
			public Object postProcessBeforeInitialization(Object bean, String beanName) {
				if (bean instanceof JobMaintenanceServiceImpl maintenance) {
					maintenance.setScheduledJobFrequencyMillis(5_000);
				}
				return bean;
			}
		};
	}

	@Bean
	public PartitionSettings partitionSettings() {
		return new PartitionSettings();
	}

	@Bean
	public SubscriptionSettings subscriptionSettings() {
		return new SubscriptionSettings();
	}

	@Bean
	public IBinaryStorageSvc binaryStorage() {
		return new MemoryBinaryStorageSvcImpl();
	}

	@Bean(destroyMethod = "close")
	public BasicDataSource dataSource(ServerSettings serverSettings) {
		BasicDataSource dataSource = new BasicDataSource();
		dataSource.setDriver(new org.h2.Driver());
		dataSource.setUrl(serverSettings.dbUrl());
		dataSource.setUsername("sa");
		dataSource.setPassword("");
		dataSource.setMaxTotal(10);
		return dataSource;
	}

	@Primary
	@Bean
	public LocalContainerEntityManagerFactoryBean entityManagerFactory(
			ConfigurableListableBeanFactory beanFactory,
			FhirContext fhirContext,
			JpaStorageSettings storageSettings,
			DataSource dataSource) {
		LocalContainerEntityManagerFactoryBean factory =
				HapiEntityManagerFactoryUtil.newEntityManagerFactory(beanFactory, fhirContext, storageSettings);
		factory.setPersistenceUnitName("HAPI_PU");
		factory.setDataSource(dataSource);
		Properties properties = new Properties();
		properties.put("hibernate.dialect", HapiFhirH2Dialect.class.getName());
		properties.put("hibernate.hbm2ddl.auto", "update");
		properties.put("hibernate.format_sql", "false");
		properties.put("hibernate.show_sql", "false");
		properties.put("hibernate.jdbc.batch_size", "20");
		properties.put("hibernate.cache.use_query_cache", "false");
		properties.put("hibernate.cache.use_second_level_cache", "false");
		properties.put("hibernate.search.enabled", "false");
		factory.setJpaProperties(properties);
		return factory;
	}

	@Primary
	@Bean
	public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
		JpaTransactionManager manager = new JpaTransactionManager();
		manager.setEntityManagerFactory(entityManagerFactory);
		return manager;
	}

	@Bean
	public RestfulServer restfulServer(
			ServerSettings serverSettings,
			IFhirSystemDao<?, ?> systemDao,
			ResourceProviderFactory resourceProviders,
			JpaSystemProvider<?, ?> systemProvider,
			JpaStorageSettings storageSettings,
			ISearchParamRegistry searchParamRegistry,
			IValidationSupport validationSupport,
			IValidatorModule validatorModule,
			DatabaseBackedPagingProvider pagingProvider,
			BulkDataExportProvider bulkDataExportProvider) {
		FhirContext fhirContext = systemDao.getContext();
		fhirContext.setNarrativeGenerator(new NullNarrativeGenerator());
		RestfulServer server = new RestfulServer(fhirContext);
		server.registerProviders(resourceProviders.createProviders());
		server.registerProvider(systemProvider);
		server.registerProvider(bulkDataExportProvider);
		JpaCapabilityStatementProvider capabilities = new JpaCapabilityStatementProvider(
				server, systemDao, storageSettings, searchParamRegistry, validationSupport);
		capabilities.setImplementationDescription("HAPI FHIR R4 Server");
		server.setServerConformanceProvider(capabilities);
		server.setDefaultResponseEncoding(EncodingEnum.JSON);
		server.setDefaultPrettyPrint(true);
		// Pages of 20, at most 200 on request (_count), as HAPI's JPA starter ships.
		pagingProvider.setDefaultPageSize(20);
		pagingProvider.setMaximumPageSize(200);
		server.setPagingProvider(pagingProvider);
		server.setServerAddressStrategy(new IncomingRequestAddressStrategy());
		if (serverSettings.validateRequests()) {
			RequestValidatingInterceptor validating = new RequestValidatingInterceptor();
			validating.setFailOnSeverity(ResultSeverityEnum.ERROR);
			validating.setAddResponseHeaderOnSeverity(null);
			validating.setAddResponseOutcomeHeaderOnSeverity(ResultSeverityEnum.INFORMATION);
			validating.setValidatorModules(List.of(new ExtensionContextValidation(validatorModule, validationSupport)));
			server.registerInterceptor(validating);
		}
		return server;
	}
}
