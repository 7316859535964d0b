// `alpha devices`: every Vulkan device with its type, driver, memory and the capabilities the
// kernels care about; marks the one alpha would pick.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "engine/ops/matmul_tuning.h"
#include "engine/vk/context.h"

namespace alpha::cli {

static std::string yes_no(bool value) { return value ? "yes" : "no"; }

static void print_devices() {
  vk::Instance instance(false);
  auto devices = vk::query_devices(instance.handle());
  const vk::DeviceInfo& chosen = vk::select_device(devices, global_options().device ? global_options().device : vk::device_index_from_env());
  vk::Switches switches = vk::Switches::from_env();
  for (const auto& d : devices) {
    fmt::print("{}{}: {} ({})\n", d.index == chosen.index ? "*" : " ", d.index, d.name, d.type_name());
    fmt::print("    driver          {} {} (Vulkan {})\n", d.driver_name, d.driver_info, d.api_version_string());
    fmt::print("    memory          {:.1f} GiB device-local\n", d.device_local_bytes / 1073741824.0);
    fmt::print("    fp16            arithmetic {}, 16-bit storage {}, bf16 {}\n", yes_no(d.fp16_arithmetic),
               yes_no(d.storage_16bit), yes_no(d.bf16));
    fmt::print("    subgroup        {} (control {}, {}..{}, shuffle {})\n", d.subgroup_size,
               yes_no(d.subgroup_size_control), d.min_subgroup_size, d.max_subgroup_size,
               yes_no(d.subgroup_shuffle));
    fmt::print("    shared memory   {} KiB, {} invocations per workgroup\n", d.max_shared_memory / 1024,
               d.max_workgroup_invocations);
    fmt::print("    storage range   {} MiB per binding\n", d.max_storage_buffer_range >> 20);
    fmt::print(
        "    texel buffers   rgba32f {}, r32f {}, rgba16f {}, {}M elements, offsets aligned to "
        "{}\n",
        yes_no(d.texel_rgba32f), yes_no(d.texel_r32f), yes_no(d.texel_rgba16f),
        d.max_texel_buffer_elements >> 20, d.min_texel_buffer_offset_alignment);
    fmt::print("    timestamps      {}{}\n", yes_no(d.timestamps),
               d.timestamps ? fmt::format(" ({} ns/tick)", d.timestamp_period_ns) : "");
    fmt::print("    coopmat         KHR {}, NV {}, NV2 {}\n", yes_no(d.coopmat_khr), yes_no(d.coopmat_nv),
               yes_no(d.coopmat2_nv));
    for (const auto& s : d.coopmat_shapes)
      fmt::print("      {}x{}x{} {} -> {} ({})\n", s.m, s.n, s.k, s.a_type, s.c_type,
                 s.nv ? "NV" : "KHR");
    if (const auto tuning = ops::load_matmul_tuning(d))
      fmt::print("    matmul tile     {} (tuned on {}, {})\n", tuning->tile.to_string(),
                 tuning->shapes, tuning->measured);
    else
      fmt::print("    matmul tile     the default (not tuned: alpha bench --tune)\n");
    if (std::string reason = d.unusable_reason(); !reason.empty()) fmt::print("    unusable        {}\n", reason);
  }
  fmt::print("disabled fast paths: {}\n", switches.describe());
}

void add_devices_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "List Vulkan devices and what each supports (* = the one alpha uses)");
  cmd->callback([] { print_devices(); });
}

}  // namespace alpha::cli
