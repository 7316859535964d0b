/* volk, compiled into the binary: Vulkan entry points are loaded at run time (instance.cpp opens the
   loader), so alpha never links libvulkan. */
#include <volk.c>
