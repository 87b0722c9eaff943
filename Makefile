# entroscope — the two commands of the README:
#   make figures   the main job: fetch the models, build, regenerate every figure (default model)
#   make test      fetch the models and run the whole test suite
# Builds go to a target directory outside the clone, so later runs on the same machine are warm.

CACHE ?= $(HOME)/.cache/entroscope
export CARGO_TARGET_DIR ?= $(CACHE)/target
export ENTROSCOPE_MODELS ?= $(CACHE)/models
CARGO ?= cargo

.PHONY: models build test figures notebooks-setup notebooks lint fixtures

models:
	@bash scripts/fetch-models.sh

build:
	$(CARGO) build --release

test: models
	$(CARGO) test --release

# The figures of every paper: the CLI's lens figures, then every notebook headless (each writes its
# PNGs under figures/). QUICK=1 for a fast pass.
figures: models
	$(CARGO) run --release --bin entroscope -- figures --out figures $(if $(QUICK),--quick,)
	$(CARGO) run --release --bin entroscope -- uncertainty --out figures/uncertainty $(if $(QUICK),--quick,)
	ENTROSCOPE_QUICK=$(QUICK) NOTEBOOKS_OUT=notebooks/executed bash scripts/run-notebooks.sh

notebooks-setup:
	bash scripts/setup-notebooks.sh

notebooks:
	ENTROSCOPE_QUICK=$(QUICK) bash scripts/run-notebooks.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings
