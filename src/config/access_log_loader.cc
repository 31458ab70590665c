// envoy.config.accesslog.v3.AccessLog entries of an HttpConnectionManager: the file
// logger (path + format) and the stdout/stderr loggers (format only).
#include "access_log/log_format.h"
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

// SubstitutionFormatString: text_format_source (a DataSource) or text_format.
std::string load_log_format(const ConfigNode& log_format) {
  log_format.expect_fields(names::kSubstitutionFormatString, {"text_format_source", "text_format"});
  if (log_format.has("text_format_source")) {
    return load_data_source(log_format.field("text_format_source"));
  }
  if (log_format.has("text_format")) return log_format.field("text_format").as_string();
  log_format.fail("log_format needs text_format_source or text_format (weir has no json_format)");
}

// Checks the format where it was written, so a typo points at its line.
void check_format(const ConfigNode& at, const std::string& format) {
  if (format.empty()) return;
  auto parsed = access_log::LogFormat::parse(format);
  if (!parsed) at.fail(parsed.error());
}

AccessLogConfig load_access_log(const ConfigNode& entry) {
  entry.expect_fields(names::kAccessLog, {"name", "typed_config"});
  AccessLogConfig result;
  result.location = entry.location();
  const ConfigNode typed_config = entry.required("typed_config");
  const std::string type = typed_config_type(typed_config);
  const std::string name = entry.has("name") ? entry.field("name").as_string() : "";
  auto is = [&](std::string_view message, std::string_view extension) {
    return type == message || (type.empty() && name == extension);
  };

  if (is(names::kFileAccessLog, names::kFileAccessLogName)) {
    const ConfigNode file = typed_config_body(typed_config, names::kFileAccessLog);
    file.expect_fields(names::kFileAccessLog, {"path", "format", "log_format"});
    result.path = file.required("path").as_nonempty_string();
    if (file.has("log_format")) {
      result.format = load_log_format(file.field("log_format"));
      check_format(file.field("log_format"), result.format);
    } else if (file.has("format")) {
      result.format = file.field("format").as_string();
      check_format(file.field("format"), result.format);
    }
    return result;
  }
  const bool to_stdout = is(names::kStdoutAccessLog, names::kStdoutAccessLogName);
  if (to_stdout || is(names::kStderrAccessLog, names::kStderrAccessLogName)) {
    const std::string_view message = to_stdout ? names::kStdoutAccessLog : names::kStderrAccessLog;
    const ConfigNode stream = typed_config_body(typed_config, message);
    stream.expect_fields(message, {"log_format"});
    result.path = to_stdout ? "/dev/stdout" : "/dev/stderr";
    if (stream.has("log_format")) {
      result.format = load_log_format(stream.field("log_format"));
      check_format(stream.field("log_format"), result.format);
    }
    return result;
  }
  entry.fail("unsupported access logger \"" + name + "\"" +
             (type.empty() ? "" : " of type " + type) +
             ": weir implements envoy.access_loggers.file, .stdout and .stderr");
}

}  // namespace

std::vector<AccessLogConfig> load_access_logs(const ConfigNode& access_log) {
  std::vector<AccessLogConfig> result;
  for (const ConfigNode& entry : access_log.items()) result.push_back(load_access_log(entry));
  return result;
}

}  // namespace weir::config
