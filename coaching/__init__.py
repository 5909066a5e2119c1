"""The pure core of the coaching-effectiveness pipeline: no Prefect, no network."""
