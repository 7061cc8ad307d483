"""piqc-advisor: the PIQC GenAI deployment-readiness knowledge base, made executable."""

__version__ = "0.1.0"
