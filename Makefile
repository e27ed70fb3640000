# peoplesync: `make demo` and `make test` do all the set-up a fresh clone needs.
GO      ?= go
BIN     := bin/peoplesync
PREFIX  ?= /usr/local
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build demo test lint staticcheck bench fuzz install clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/peoplesync

# The whole pipeline on the example domain bundled in the binary: maildb
# builds demo/People, sync copies it over SFTP to two mail servers started
# in-process on loopback; a second run sends nothing. Needs nothing installed.
demo: build
	$(BIN) demo --dir demo --log-level warn
	@echo; echo "== demo/People/aliases: joined, routing aliases stripped =="; cat demo/People/aliases
	@echo; echo "== demo/People/passwd: password hashes redacted =="; cat demo/People/passwd

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

lint: test staticcheck

staticcheck:
	$(GO) run $(STATICCHECK) ./...

# Side-by-side benchmarks against the tools an admin would use instead.
# aliasfmt against an awk | grep -v pipeline; sync against rsync -a -e ssh on
# a real sshd; the LDAP source against ldapsearch | awk on a real slapd. The
# last two need openssh-server, rsync, slapd and ldap-utils (.ci/run installs
# them).
bench:
	$(GO) run ./internal/bench/aliasfmt
	$(GO) run ./internal/bench/sync
	$(GO) run ./internal/bench/ldap

# A short fuzzing session for each parser (the seed corpus runs in `make test`).
fuzz:
	$(GO) test ./nidump -run '^$$' -fuzz FuzzAliases -fuzztime 60s
	$(GO) test ./nidump -run '^$$' -fuzz FuzzPasswd -fuzztime 60s
	$(GO) test ./nidump -run '^$$' -fuzz FuzzRaw -fuzztime 60s
	$(GO) test ./aliasfmt -run '^$$' -fuzz FuzzFormat -fuzztime 60s
	$(GO) test ./aliasfmt -run '^$$' -fuzz FuzzChunks -fuzztime 60s
	$(GO) test ./aliasfmt -run '^$$' -fuzz FuzzFastChunk -fuzztime 60s
	$(GO) test ./internal/swar -run '^$$' -fuzz FuzzSWAR -fuzztime 20s

UNITDIR ?= /etc/systemd/system

# The binary, the systemd units (they expect /usr/local/bin/peoplesync) and
# the example config; an existing config is never overwritten.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/peoplesync
	install -D -m 0644 systemd/peoplesync.service $(DESTDIR)$(UNITDIR)/peoplesync.service
	install -D -m 0644 systemd/peoplesync-once.service $(DESTDIR)$(UNITDIR)/peoplesync-once.service
	install -D -m 0644 systemd/peoplesync.timer $(DESTDIR)$(UNITDIR)/peoplesync.timer
	install -D -m 0644 examples/peoplesync.toml $(DESTDIR)/etc/peoplesync/peoplesync.toml.example
	@if [ ! -e $(DESTDIR)/etc/peoplesync/peoplesync.toml ]; then \
		install -m 0640 examples/peoplesync.toml $(DESTDIR)/etc/peoplesync/peoplesync.toml; \
		echo "installed /etc/peoplesync/peoplesync.toml: edit it, then run peoplesync check"; fi

clean:
	rm -rf bin demo
