package org.fhirresist.hapi;

import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.validation.IValidationContext;
import ca.uhn.fhir.validation.IValidatorModule;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationContext;
import java.util.List;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.ElementDefinition;
import org.hl7.fhir.r4.model.StructureDefinition;
import org.hl7.fhir.r4.model.StructureDefinition.ExtensionContextType;
import org.hl7.fhir.r4.model.StructureDefinition.StructureDefinitionContextComponent;

/**
 * Validates written resources with the instance validator, checking the {@code element} contexts
 * of an extension definition itself.
 *
 * <p>The validator of HAPI FHIR 8.8 (FHIR core 6.7.9) checks each {@code element} context of an
 * extension against every FHIR release it lists between the server's versions: for an R4 server
 * that is release "4.0", which it does not match with the server's own "4.0.1", so it tries to load
 * the R4 core package by name ({@code hl7.fhir.r4.core}, no version) from the FHIR package
 * registry. Offline, or with no such package cached, the write of every extension definition is
 * refused with "Error generating Snapshot: Unable to resolve package id hl7.fhir.r4.core#null",
 * and the rest of its checks (snapshot generation from the differential included) never run.
 *
 * <p>So an extension definition is validated as a copy whose {@code element} contexts are marked
 * {@code extension} (a context kind the validator does not look up), which lets every other check
 * run, and each {@code element} context is then checked here against the R4 definitions the
 * server knows: it must name an element of an R4 type, as the validator would require.
 */
final class ExtensionContextValidation implements IValidatorModule {

	private static final String CORE = "http://hl7.org/fhir/StructureDefinition/";

	private final IValidatorModule delegate;
	private final IValidationSupport definitions;

	ExtensionContextValidation(IValidatorModule delegate, IValidationSupport definitions) {
		this.delegate = delegate;
		this.definitions = definitions;
	}

	@Override
	public void validateResource(IValidationContext<IBaseResource> context) {
		if (!(context.getResource() instanceof StructureDefinition definition) || elementContexts(definition).isEmpty()) {
			delegate.validateResource(context);
			return;
		}
		StructureDefinition copy = definition.copy();
		for (StructureDefinitionContextComponent use : elementContexts(copy)) {
			use.setType(ExtensionContextType.EXTENSION);
		}
		IValidationContext<IBaseResource> copyContext =
				ValidationContext.forResource(context.getFhirContext(), copy, context.getOptions());
		delegate.validateResource(copyContext);
		copyContext.getMessages().forEach(context::addValidationMessage);
		int index = 0;
		for (StructureDefinitionContextComponent use : definition.getContext()) {
			if (use.getType() == ExtensionContextType.ELEMENT && !namesR4Element(use.getExpression())) {
				context.addValidationMessage(unknownElement(use.getExpression(), index));
			}
			index++;
		}
	}

	private static List<StructureDefinitionContextComponent> elementContexts(StructureDefinition definition) {
		return definition.getContext().stream()
				.filter(use -> use.getType() == ExtensionContextType.ELEMENT)
				.toList();
	}

	/** Whether {@code path} (e.g. {@code RequestGroup.action}) names an element of an R4 type. */
	boolean namesR4Element(String path) {
		if (path == null || path.isBlank()) {
			return false;
		}
		String[] steps = path.split("\\.");
		StructureDefinition type = coreType(steps[0]);
		String current = steps[0];
		for (int i = 1; i < steps.length && type != null; i++) {
			String next = current + "." + steps[i];
			if (element(type, next) == null) {
				// The path goes on inside the element's data type (e.g. Observation.code.coding).
				ElementDefinition parent = element(type, current);
				if (parent == null || parent.getType().size() != 1) {
					return false;
				}
				String code = parent.getType().get(0).getCode();
				type = coreType(code);
				next = code + "." + steps[i];
				if (type == null || element(type, next) == null) {
					return false;
				}
			}
			current = next;
		}
		return type != null;
	}

	private StructureDefinition coreType(String name) {
		IBaseResource found = definitions.fetchStructureDefinition(CORE + name);
		return found instanceof StructureDefinition definition && definition.hasSnapshot() ? definition : null;
	}

	private static ElementDefinition element(StructureDefinition type, String path) {
		for (ElementDefinition element : type.getSnapshot().getElement()) {
			if (element.getPath().equals(path) && !element.hasSliceName()) {
				return element;
			}
		}
		return null;
	}

	private static SingleValidationMessage unknownElement(String expression, int index) {
		SingleValidationMessage message = new SingleValidationMessage();
		message.setSeverity(ResultSeverityEnum.ERROR);
		message.setLocationString("StructureDefinition.context[" + index + "]");
		message.setMessage("The extension context '" + expression + "' does not name an element of FHIR R4");
		return message;
	}
}
