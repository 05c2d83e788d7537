#!/usr/bin/env bash
# Compiles infra/main.bicep to ARM JSON and lints it, failing on any warning: a template that does not compile, or
# that the linter flags, must fail here and not in front of the customer.
#
# The Bicep CLI comes from the NuGet package Azure.Bicep.CommandLine.linux-x64 (pinned below), restored with `dotnet`
# into .local/bicep/ (git-ignored), so the second run reuses it and nothing else needs installing. With the Azure CLI
# the same check is `az bicep build --file infra/main.bicep --outfile .local/infra/main.json` followed by
# `az bicep lint --file infra/main.bicep` (see docs/deploy.md).
#
# Environment: BICEP_BIN=/path/to/bicep skips the restore and uses that binary (it must be version $BICEP_VERSION).
set -euo pipefail

BICEP_PACKAGE=Azure.Bicep.CommandLine.linux-x64
BICEP_VERSION=0.49.2

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.local/bicep"
out="$root/.local/infra"
package_dir="$cache/packages/$(echo "$BICEP_PACKAGE" | tr '[:upper:]' '[:lower:]')/$BICEP_VERSION"

fail() {
  # A template that failed the check must not be left for the tests to read as if it had passed.
  rm -f "$out/main.json"
  echo "infra/check.sh: $*" >&2
  exit 1
}

restore_bicep() {
  command -v dotnet >/dev/null 2>&1 ||
    fail "the .NET SDK ('dotnet') is needed to fetch the Bicep CLI from NuGet; install it, or set BICEP_BIN to a Bicep $BICEP_VERSION binary, or run 'az bicep build' / 'az bicep lint' (docs/deploy.md)"
  local work="$cache/restore"
  mkdir -p "$work"
  # PackageDownload fetches the package without building anything; the project is only a vehicle for the restore.
  cat >"$work/restore.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net$(dotnet --version | cut -d. -f1-2)</TargetFramework>
    <DisableImplicitNuGetFallbackFolder>true</DisableImplicitNuGetFallbackFolder>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="$BICEP_PACKAGE" Version="[$BICEP_VERSION]" />
  </ItemGroup>
</Project>
EOF
  echo "infra/check.sh: restoring $BICEP_PACKAGE $BICEP_VERSION from NuGet into ${cache#"$root"/}" >&2
  local log="$work/restore.log"
  if ! dotnet restore "$work/restore.csproj" --packages "$cache/packages" --nologo >"$log" 2>&1; then
    cat "$log" >&2
    fail "'dotnet restore' of $BICEP_PACKAGE $BICEP_VERSION failed (output above; is NuGet reachable?)"
  fi
  [[ -f "$package_dir/tools/bicep" ]] ||
    fail "the restore succeeded but $package_dir/tools/bicep is missing; the package layout changed, check $log"
  chmod +x "$package_dir/tools/bicep"
}

if [[ -n "${BICEP_BIN:-}" ]]; then
  bicep="$BICEP_BIN"
else
  bicep="$package_dir/tools/bicep"
  [[ -x "$bicep" ]] || restore_bicep
fi

version_line="$("$bicep" --version 2>&1)" || fail "'$bicep --version' failed: $version_line"
[[ "$version_line" == *"$BICEP_VERSION"* ]] || fail "expected Bicep CLI $BICEP_VERSION, got: $version_line"
echo "$version_line"

mkdir -p "$out"
# Bicep prints diagnostics on stderr as "<file>(line,col) : Warning <code>: ..." and exits non-zero only on errors,
# so warnings are caught by reading its output.
check_output() {
  local step="$1" log="$2"
  if grep -Eq ' : (Warning|Error) ' "$log"; then
    cat "$log" >&2
    fail "$step reported the diagnostics above; the templates must compile and lint with no warning"
  fi
}

build_log="$out/build.log"
if ! "$bicep" build "$root/infra/main.bicep" --outfile "$out/main.json" >"$build_log" 2>&1; then
  cat "$build_log" >&2
  fail "bicep build failed (output above)"
fi
check_output "bicep build" "$build_log"

lint_log="$out/lint.log"
if ! "$bicep" lint "$root/infra/main.bicep" >"$lint_log" 2>&1; then
  cat "$lint_log" >&2
  fail "bicep lint failed (output above)"
fi
check_output "bicep lint" "$lint_log"

echo "infra/check.sh: infra/main.bicep compiled to ${out#"$root"/}/main.json and linted with no warning"
