"""The command line's exit codes."""

EXIT_OK = 0  # done
EXIT_INTERNAL = 1  # a defect in fhir_resist
EXIT_INPUT = 2  # bad input or usage
EXIT_SERVER = 3  # the FHIR server failed or refused the results
