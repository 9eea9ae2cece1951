"""kfp v2 pipelines; compiled to YAML by ``make compile-pipelines``."""
