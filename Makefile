# The one place the build tag is set: the SQLite preupdate hook (exact
# before-images on SQLite targets) is compiled only with it. A test in
# engine/sqlite fails if the hook is inert, so a build without the tag
# cannot pass.
export GOFLAGS := -tags=sqlite_preupdate_hook -buildvcs=false
# Halves the cold cgo build of SQLite and pg_query; no effect on results.
export CGO_CFLAGS ?= -O1 -g0

.PHONY: run build test bench fuzz vet

run:
	go run .

build:
	go build -o lifebelt .

test:
	go vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	go test -count=1 -timeout 20m ./...

# Benchmarks with the figures quoted in README.
bench:
	go test -run '^$$' -bench . -timeout 10m ./journal
	go test -run '^$$' -bench . -benchtime 3x -timeout 60m ./engine/sqlite ./engine/postgres

vet:
	go vet ./...
