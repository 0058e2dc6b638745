# One entry point for learners, authors and CI.
#   make        set everything up (Python venv, Debian packages, test validators) and build dist/
#   make test   lint (ruff, mypy) and run the full test suite against the real Anki engine, EPUBCheck,
#               Ace, with the handbook built --strict (warnings fail)
#   make test-fast   the author's edit-test loop: reader, math and golden tests (under 30 s)
# Debian packages are installed when running as root; otherwise the exact apt-get line is printed.

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
# Every edition: the original and each translation beside it (handbook.<language>.md).
SOURCES     ?= $(sort $(wildcard content/handbook.md content/handbook.*.md))
OUT         ?= dist
BUILD_FLAGS ?=
BUILD        = for source in $(SOURCES); do $(PY) build.py --source $$source --out $(OUT) $(BUILD_FLAGS) $(1) || exit 1; done

# Fonts for the PDF (Noto Serif/Sans/Mono, CJK for zh-CN, Color Emoji for the emoji real question
# banks use), HarfBuzz's subsetter for reproducible
# PDFs, poppler-utils to look at pages, a JRE for EPUBCheck, Chromium for DAISY Ace.
DEB_BUILD   := fonts-noto-core fonts-noto-mono fonts-noto-cjk fonts-noto-color-emoji libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0
DEB_TEST    := poppler-utils default-jre-headless chromium

.PHONY: all setup setup-test deps-build deps-test anki pdf epub flashcards quiz check test test-fast lint clean distclean bench

# `make` builds real files with real prerequisites: each edition's artifacts (named by
# `build.py outputs`, which reads the front matter only) depend on everything that shapes them —
# the whole content directory (the translation overlays the original), templates, code, the
# installed pins, the installed Debian packages (fonts), and the options below. An up-to-date
# `make` runs no build at all. build.py keeps its own, finer check (per artifact, by content hash)
# for direct calls; the `touch` marks an edition as checked when its bytes did not change.
STATE       ?= .build
BUILD_INPUTS := build.py $(VENV)/.installed $(STATE)/options $(wildcard /var/lib/dpkg/status) \
                $(shell find $(sort $(dir $(SOURCES))) templates studybook -type f ! -name '*.pyc' 2>/dev/null | sort)

# The artifacts' names, learned once per change of a source's front matter; make re-reads this
# file after making it. Not needed (and the venv not created) to clean up, nor by the sub-make
# that installs Debian packages (which making this file needs: it would recurse).
ifeq ($(filter clean distclean apt,$(MAKECMDGOALS)),)
include $(STATE)/artifacts.mk
endif
ifneq ($(NAMED_SOURCES),$(SOURCES))
$(STATE)/artifacts.mk: names-changed
names-changed: ;
endif

all: $(foreach s,$(SOURCES),$(addprefix $(OUT)/,$(NAMES_$(s))))

define EDITION
$(addprefix $(OUT)/,$(NAMES_$(1))) &: $(BUILD_INPUTS) | deps-build
	$(PY) build.py all --source $(1) --out $(OUT) $(BUILD_FLAGS)
	@touch $(addprefix $(OUT)/,$(NAMES_$(1)))
endef
$(foreach s,$(SOURCES),$(eval $(call EDITION,$(s))))

# The options are part of the inputs: a stamp rewritten only when they change.
OPTIONS := SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) BUILD_FLAGS=$(BUILD_FLAGS)
ifneq ($(shell cat $(STATE)/options 2>/dev/null),$(OPTIONS))
$(shell mkdir -p $(STATE) && echo '$(OPTIONS)' > $(STATE)/options)
endif

$(STATE)/artifacts.mk: $(SOURCES) $(VENV)/.installed | deps-build
	@mkdir -p $(STATE)
	@{ echo "NAMED_SOURCES := $(SOURCES)"; for s in $(SOURCES); do \
	  names=$$($(PY) build.py outputs --source $$s) || exit 1; echo "NAMES_$$s :=" $$names; \
	done; } > $@.tmp && mv $@.tmp $@

anki pdf epub flashcards quiz check: setup
	@$(call BUILD,$@)

setup: deps-build $(VENV)/.installed

setup-test: setup deps-test node_modules/.installed anki-assets

# Anki's reviewer CSS and MathJax for the screen tests of card backs: the aqt wheel pinned in
# requirements-dev.txt (`# download: aqt==…`), downloaded and unpacked into ~/.cache/studybook, never
# installed. The tests fetch it themselves when it is missing.
.PHONY: anki-assets
anki-assets: setup
	$(PY) tests/screen/harness.py

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps-build:
	@$(MAKE) --no-print-directory apt PKGS="$(DEB_BUILD)"

# Node.js may come from elsewhere than Debian (e.g. with npm bundled): only install it when absent.
deps-test:
	@$(MAKE) --no-print-directory apt PKGS="$(DEB_TEST)"
	@command -v npm >/dev/null || $(MAKE) --no-print-directory apt PKGS="nodejs npm"

.PHONY: apt
apt:
	@missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing Debian packages; run: sudo apt-get install -y $$missing" >&2; exit 1; \
	  fi; \
	fi

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: setup-test lint
	$(VENV)/bin/pytest -q

test-fast: setup
	$(VENV)/bin/pytest -q -m "not slow" -n 2

# Not part of `make test`: timings depend on the machine. Prints every figure of docs/performance.md
# (GNU time measures the child processes); BENCH_ARGS="--sizes 50,500 --cap-seconds 600" to shorten it.
bench: setup
	@$(MAKE) --no-print-directory apt PKGS="time"
	$(PY) scripts/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(OUT) .pytest_cache .build

distclean: clean
	rm -rf $(VENV) node_modules
