# entroscope — the two commands of the README:
#   make figures   the main job: fetch the models, build, regenerate every paper's figures
#   make test      fetch the models and run the whole test suite
# Builds go to a target directory outside the clone, so later runs on the same machine are warm.

CACHE ?= $(HOME)/.cache/entroscope
export CARGO_TARGET_DIR ?= $(CACHE)/target
export ENTROSCOPE_MODELS ?= $(CACHE)/models
CARGO ?= cargo

# One build serves `make test`, `make figures` and the notebooks. The notebooks' kernel (evcxr)
# builds in cargo's dev profile for an explicit host target with RUSTFLAGS=-Cprefer-dynamic, so
# these targets build the same way (Cargo.toml's [profile.dev] is optimised and matches evcxr's
# where it matters; scripts/setup-notebooks.sh points evcxr at this target directory). Its
# dependencies are then fresh for evcxr, which compiles only entroscope and the cells.
# RUSTFLAGS, as evcxr sets it: it replaces any rustflags of a user's cargo config on both sides.
HOST = $(or $(shell $(CARGO) -vV 2>/dev/null | sed -n 's/^host: //p'),$(error `$(CARGO) -vV` names no host: is a Rust toolchain installed?))
SHARED_BUILD = CARGO_BUILD_TARGET=$(HOST) RUSTFLAGS=-Cprefer-dynamic

.PHONY: models build test figures notebooks-setup notebooks lint fixtures check-cuda gpu-bundle fuzz slurm-check

models:
	@bash scripts/fetch-models.sh

build:
	$(SHARED_BUILD) $(CARGO) build

# ARGS narrows the run, e.g. make test ARGS="--test library shard" (same build, nothing recompiled).
test: models
	$(SHARED_BUILD) $(CARGO) test $(ARGS)

# Every paper's figures and tables under figures/ (lens, uncertainty, entropy_lens, end, edt), one
# progress line per part and a closing summary. SIZE=quick|default|full|paper (QUICK=1 = quick).
# MODEL=qwen2.5-coder-1.5b-instruct (or any model) runs every paper on it; CHAT=1 puts the
# requests (Entropy-Lens, END open-ended, EDT) in the model's chat template; ONLY=uncertainty
# (etc.) runs one part. A killed run resumes where it stopped (FRESH=1 starts again).
# A whole run (no MODEL, no ONLY, not SIZE=quick) then refreshes each docs/<paper>.md's results.
SIZE ?= $(if $(QUICK),quick,default)
OUT ?= figures
FIGURE_ARGS = $(if $(MODEL),--model $(MODEL)) $(if $(CHAT),--chat-template) $(if $(FRESH),--fresh) $(foreach o,$(ONLY),--only $(o)) $(if $(DTYPE),--dtype $(DTYPE))
figures: models
	$(SHARED_BUILD) $(CARGO) run --bin entroscope -- figures --out $(OUT) --size $(SIZE) $(FIGURE_ARGS)
	$(if $(MODEL)$(ONLY)$(filter quick,$(SIZE)),,bash scripts/docs-results.sh $(OUT) $(SIZE))

notebooks-setup:
	bash scripts/setup-notebooks.sh

# Execute every notebook headless (they write the same figures as `make figures`, with the
# cells' own displays); copies with outputs go to notebooks/executed/.
notebooks:
	ENTROSCOPE_SIZE=$(SIZE) NOTEBOOKS_OUT=notebooks/executed bash scripts/run-notebooks.sh

# Fuzz one parser with AFL++ (cargo-afl, stable Rust):
#   make fuzz TARGET=gguf|hf_config|prompts|chat_template SECONDS=600  (or FUZZ_TARGET=, FUZZ_SECONDS=)
FUZZ_TARGET ?= $(or $(TARGET),gguf)
FUZZ_SECONDS ?= $(or $(SECONDS),600)
fuzz: models
	bash scripts/fuzz.sh $(FUZZ_TARGET) $(FUZZ_SECONDS)

# The README's sharded runs as SLURM job arrays on a one-node cluster started here (needs root).
slurm-check: models
	bash scripts/slurm-check.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings

# The `cuda` feature compiles and links on any machine, GPU or not (scripts/setup-cuda.sh installs
# nvcc and the CUDA libraries from PyPI under $(CACHE)/cuda), into its own target directory so the
# CPU build stays warm; then, with the feature on, the library tests (on the CPU; without a GPU,
# `--device cuda` must be a typed error) and the device-agreement harness on the CPU.
CUDA_TARGET ?= $(CACHE)/target-cuda
check-cuda:
	bash scripts/setup-cuda.sh >/dev/null
	. $(CACHE)/cuda/current/env.sh && export CARGO_TARGET_DIR=$(CUDA_TARGET) && \
	  $(CARGO) build --release --features cuda --all-targets && \
	  $(CARGO) test --release --features cuda --test library && \
	  $(CUDA_TARGET)/release/examples/device_agreement --device cpu --dtypes f32

# Stripped CUDA binaries for scripts/gpu-check.sh on a GPU machine without Rust (gpu-bundle/).
gpu-bundle:
	bash scripts/build-gpu-bundle.sh

# The CPU matmul backends, from PyPI under $(CACHE) (no system install): Intel MKL
# (scripts/setup-mkl.sh) and OpenBLAS (scripts/setup-openblas.sh, the scipy-openblas32 wheel).
# Build with `--features mkl` or `--features openblas` after sourcing $(CACHE)/<backend>/current/env.sh
# (build.rs links the library from there); such a build shares the target directory: only
# entroscope itself compiles again. `make bench-matmul` (BLAS=mkl, the default, or openblas)
# prints every path's GFLOP/s on the lens's, the forward's and the 1.5B's products (the `gemm`
# crate, the backend's sgemm, and MKL's bf16 product on AMX / AVX512-BF16); ARGS="128 341" runs
# the lens shape only, at those M.
.PHONY: setup-mkl setup-openblas bench-matmul check-backend
setup-mkl:
	ENTROSCOPE_CACHE=$(CACHE) bash scripts/setup-mkl.sh >/dev/null

setup-openblas:
	ENTROSCOPE_CACHE=$(CACHE) bash scripts/setup-openblas.sh >/dev/null

BLAS ?= mkl
bench-matmul: setup-$(BLAS)
	. $(CACHE)/$(BLAS)/current/env.sh && $(SHARED_BUILD) $(CARGO) build --features $(BLAS) --example bench_matmul && \
	  RAYON_NUM_THREADS=$${RAYON_NUM_THREADS:-2} $(CARGO_TARGET_DIR)/$(HOST)/debug/examples/bench_matmul $(ARGS)

# The numeric tests with $(BLAS) doing every CPU matmul (the lens's and the forward's linear
# layers): its set-up, then the unit tests and the oracle suites that compare layers, logits and
# lens entropies with transformers (the 1.5B's among them). CI runs `make check-backend BLAS=openblas`.
check-backend: models setup-$(BLAS)
	. $(CACHE)/$(BLAS)/current/env.sh && $(SHARED_BUILD) $(CARGO) test --features $(BLAS) \
	  --lib --test oracle -- sgemm transformer lens_peer dtypes real_models tiny_models
