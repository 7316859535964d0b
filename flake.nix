# Nix build of alpha: a dev shell and a package with the same dependencies as scripts/setup (Debian).
# Not evaluated in CI (no network to a binary cache there); kept minimal so it stays honest.
{
  description = "alpha: train and run GPT models on a Vulkan compute engine, in one binary";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      buildTools = with pkgs; [ meson ninja pkg-config python3 git glslang spirv-tools ];
      libraries = with pkgs; [ vulkan-headers vulkan-loader volk fmt doctest zstd cli11 nlohmann_json pcre2 ];
      runtime = with pkgs; [ mesa vulkan-validation-layers ];
    in {
      packages.${system}.default = pkgs.stdenv.mkDerivation {
        pname = "alpha";
        version = "0.1.0";
        src = self;
        nativeBuildInputs = buildTools;
        buildInputs = libraries;
        mesonBuildType = "release";
      };
      devShells.${system}.default = pkgs.mkShell {
        packages = buildTools ++ libraries ++ runtime;
        # the binary dlopens the loader at run time
        LD_LIBRARY_PATH = "${pkgs.vulkan-loader}/lib";
      };
    };
}
