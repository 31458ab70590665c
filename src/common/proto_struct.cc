#include "common/proto_struct.h"

#include <cstring>

namespace weir::common {

namespace {

// ---- protobuf wire format

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void tag(std::string& out, uint32_t field, uint32_t wire_type) {
  varint(out, field << 3 | wire_type);
}

void bytes_field(std::string& out, uint32_t field, std::string_view data) {
  tag(out, field, 2);
  varint(out, data.size());
  out.append(data);
}

void string_field_if_set(std::string& out, uint32_t field, std::string_view data) {
  if (!data.empty()) bytes_field(out, field, data);  // proto3: defaults are not written
}

void append_le(std::string& out, const void* p, size_t n) {
  out.append(static_cast<const char*>(p), n);  // little-endian hosts only (x86-64, arm64)
}

void encode_value(const ProtoValue& v, std::string& out);

void encode_list(const ProtoValue& l, std::string& out) {
  for (const ProtoValue& e : l.list) {
    std::string value;
    encode_value(e, value);
    bytes_field(out, 1, value);
  }
}

void encode_value(const ProtoValue& v, std::string& out) {
  switch (v.kind) {
    case ProtoValue::Kind::Null:
      tag(out, 1, 0);
      varint(out, 0);
      return;
    case ProtoValue::Kind::Number:
      tag(out, 2, 1);
      append_le(out, &v.number, 8);
      return;
    case ProtoValue::Kind::String:
      bytes_field(out, 3, v.string);
      return;
    case ProtoValue::Kind::Bool:
      tag(out, 4, 0);
      varint(out, v.boolean ? 1 : 0);
      return;
    case ProtoValue::Kind::Struct: {
      std::string s;
      encode_struct(v, s);
      bytes_field(out, 5, s);
      return;
    }
    case ProtoValue::Kind::List: {
      std::string l;
      encode_list(v, l);
      bytes_field(out, 6, l);
      return;
    }
  }
}

// A map<string, M> field: one length-delimited entry {1: key, 2: value} per key.
template <typename Encode>
void map_entry(std::string& out, uint32_t field, std::string_view key, Encode&& encode_value_of) {
  std::string entry;
  bytes_field(entry, 1, key);
  std::string value;
  encode_value_of(value);
  bytes_field(entry, 2, value);
  bytes_field(out, field, entry);
}

// ---- Proxy-Wasm pairs (the serialized header-map format)

void put_u32(std::string& out, uint32_t v) { append_le(out, &v, 4); }

std::string pairs(const std::vector<std::pair<std::string, std::string>>& p) {
  std::string out;
  put_u32(out, static_cast<uint32_t>(p.size()));
  for (const auto& [k, v] : p) {
    put_u32(out, static_cast<uint32_t>(k.size()));
    put_u32(out, static_cast<uint32_t>(v.size()));
  }
  for (const auto& [k, v] : p) {
    out.append(k);
    out.push_back('\0');
    out.append(v);
    out.push_back('\0');
  }
  return out;
}

// ---- paths, as Envoy's CEL layer walks them

// Splits off the first token of a NUL-separated path.
std::string_view next_token(std::string_view& path) {
  size_t end = path.find('\0');
  std::string_view token = path.substr(0, end);
  path = end == std::string_view::npos ? std::string_view{} : path.substr(end + 1);
  return token;
}

bool serialize_value(const ProtoValue& v, std::string& out) {
  switch (v.kind) {
    case ProtoValue::Kind::Null:
      return false;  // Envoy: SERIALIZATION_FAILURE
    case ProtoValue::Kind::Number:
      out.clear();
      append_le(out, &v.number, 8);
      return true;
    case ProtoValue::Kind::String:
      out = v.string;
      return true;
    case ProtoValue::Kind::Bool:
      out.assign(1, v.boolean ? '\1' : '\0');
      return true;
    case ProtoValue::Kind::Struct: {
      std::vector<std::pair<std::string, std::string>> p;
      for (const auto& [k, f] : v.fields) {
        std::string s;
        if (!serialize_value(f, s)) return false;
        p.emplace_back(k, std::move(s));
      }
      out = pairs(p);
      return true;
    }
    case ProtoValue::Kind::List: {
      std::vector<std::pair<std::string, std::string>> p;
      for (const ProtoValue& e : v.list) {
        std::string s;
        if (!serialize_value(e, s)) return false;
        p.emplace_back(std::move(s), "");
      }
      out = pairs(p);
      return true;
    }
  }
  return false;
}

bool value_property(const ProtoValue* v, std::string_view path, std::string& out) {
  while (!path.empty()) {
    std::string_view token = next_token(path);
    if (v->kind == ProtoValue::Kind::Struct) {
      auto it = v->fields.find(std::string(token));
      if (it == v->fields.end()) return false;
      v = &it->second;
    } else if (v->kind == ProtoValue::Kind::List) {
      size_t index = 0;
      if (token.empty() || token.size() > 9) return false;
      for (char c : token) {
        if (c < '0' || c > '9') return false;
        index = index * 10 + static_cast<size_t>(c - '0');
      }
      if (index >= v->list.size()) return false;
      v = &v->list[index];
    } else {
      return false;
    }
  }
  return serialize_value(*v, out);
}

}  // namespace

void encode_struct(const ProtoValue& s, std::string& out) {
  for (const auto& field : s.fields) {
    map_entry(out, 1, field.first, [&](std::string& o) { encode_value(field.second, o); });
  }
}

void encode_metadata(const Metadata& m, std::string& out) {
  for (const auto& entry : m.filter_metadata) {
    map_entry(out, 1, entry.first, [&](std::string& o) { encode_struct(entry.second, o); });
  }
}

void encode_node(const NodeInfo& n, std::string& out) {
  string_field_if_set(out, 1, n.id);
  string_field_if_set(out, 2, n.cluster);
  if (!n.metadata.fields.empty()) {
    std::string s;
    encode_struct(n.metadata, s);
    bytes_field(out, 3, s);
  }
  if (!n.region.empty() || !n.zone.empty() || !n.sub_zone.empty()) {
    std::string l;
    string_field_if_set(l, 1, n.region);
    string_field_if_set(l, 2, n.zone);
    string_field_if_set(l, 3, n.sub_zone);
    bytes_field(out, 4, l);
  }
  string_field_if_set(out, 6, n.user_agent_name);
}

bool metadata_property(const Metadata& m, std::string_view path, std::string& out) {
  if (path.empty()) {
    out.clear();
    encode_metadata(m, out);
    return true;
  }
  if (next_token(path) != "filter_metadata") return false;
  if (path.empty()) {
    std::vector<std::pair<std::string, std::string>> p;
    for (const auto& [k, v] : m.filter_metadata) {
      std::string s;
      if (!serialize_value(v, s)) return false;
      p.emplace_back(k, std::move(s));
    }
    out = pairs(p);
    return true;
  }
  auto it = m.filter_metadata.find(std::string(next_token(path)));
  if (it == m.filter_metadata.end()) return false;
  return value_property(&it->second, path, out);
}

bool node_property(const NodeInfo& n, std::string_view path, std::string& out) {
  if (path.empty()) {
    out.clear();
    encode_node(n, out);
    return true;
  }
  std::string_view field = next_token(path);
  auto leaf = [&](const std::string& v) {
    if (!path.empty()) return false;
    out = v;
    return true;
  };
  if (field == "id") return leaf(n.id);
  if (field == "cluster") return leaf(n.cluster);
  if (field == "user_agent_name") return leaf(n.user_agent_name);
  if (field == "metadata") return value_property(&n.metadata, path, out);
  if (field == "locality") {
    if (path.empty()) {
      out.clear();
      string_field_if_set(out, 1, n.region);
      string_field_if_set(out, 2, n.zone);
      string_field_if_set(out, 3, n.sub_zone);
      return true;
    }
    std::string_view sub = next_token(path);
    if (sub == "region") return leaf(n.region);
    if (sub == "zone") return leaf(n.zone);
    if (sub == "sub_zone") return leaf(n.sub_zone);
  }
  return false;
}

}  // namespace weir::common
