"""Entry point for `python -m piqc_advisor`."""

from piqc_advisor.cli import main

main(prog_name="piqc-advisor")
