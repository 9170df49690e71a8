#include "common/error.hpp"

#include <cerrno>
#include <cstring>

namespace amalgam {

SystemError::SystemError(const std::string& call, int err)
    : std::runtime_error(call + ": " + std::strerror(err)), err_(err) {}

long check_syscall(long result, const char* call) {
  if (result < 0) throw SystemError(call, errno);
  return result;
}

}  // namespace amalgam
