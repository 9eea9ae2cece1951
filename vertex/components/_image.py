"""The container image the components run in on Vertex AI: the repository installed
(Cloud Build builds and pushes it; the pipeline YAML names it). Local runs use the
current interpreter instead (``kfp.local.SubprocessRunner(use_venv=False)``)."""

BASE_IMAGE = "dra-twin:latest"

# The image has the repository and kfp installed already: components install nothing
# at run time (``packages_to_install=[]``, ``install_kfp_package=False``), which is
# also what lets kfp.local run them offline.
