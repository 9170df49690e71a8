// Error types shared by every layer.
//
// SystemError carries the failing call and errno so that a message such as
// "KVM_CREATE_VM: Permission denied" reaches the user unchanged.
// UsageError is bad input from the user (file, flag, value): the CLI prints it
// as one line and exits with status 2.
#pragma once

#include <stdexcept>
#include <string>

namespace amalgam {

class SystemError : public std::runtime_error {
 public:
  SystemError(const std::string& call, int err);
  int code() const noexcept { return err_; }

 private:
  int err_;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws SystemError(call, errno) when result is negative; returns result.
long check_syscall(long result, const char* call);

}  // namespace amalgam
