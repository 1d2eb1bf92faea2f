# TCPLEAK_STATIC=ON: tcpleak is linked fully static (libbpf, libelf, zlib,
# libstdc++, glibc), so one file runs on any x86-64 Linux >= 5.17 with BTF,
# whatever its distribution (docs/packaging.md).
#
# libbpf comes from `pkg-config --static libbpf` (Requires.private: libelf,
# zlib; bookworm's libelf.a needs no libzstd), each resolved to its .a so the
# imported target cannot fall back to a .so.
#
# Static glibc cannot use NSS (getpwnam, getaddrinfo, ...: they dlopen the
# host's libnss_* at run time, of whatever glibc the host has). The linker
# warns for each such call ("Using 'getaddrinfo' in statically linked
# applications requires ..."); --fatal-warnings makes that warning, and any
# other, a link error. scripts/check-static checks the symbols as well.

if(NOT TCPLEAK_STATIC)
  return()
endif()

set(tcpleak_static_libs)
foreach(name IN LISTS LIBBPF_STATIC_LIBRARIES)
  find_library(TCPLEAK_STATIC_LIB_${name} NAMES lib${name}.a HINTS ${LIBBPF_STATIC_LIBRARY_DIRS} NO_CACHE)
  if(NOT TCPLEAK_STATIC_LIB_${name})
    message(FATAL_ERROR "tcpleak: TCPLEAK_STATIC needs lib${name}.a (install its -dev package)")
  endif()
  list(APPEND tcpleak_static_libs ${TCPLEAK_STATIC_LIB_${name}})
endforeach()
set_property(TARGET PkgConfig::LIBBPF PROPERTY INTERFACE_LINK_LIBRARIES ${tcpleak_static_libs})
message(STATUS "tcpleak: static build with ${tcpleak_static_libs}")

# Called after src/ has defined the tcpleak target.
function(tcpleak_link_static target)
  target_link_options(${target} PRIVATE -static -Wl,--fatal-warnings)
endfunction()
