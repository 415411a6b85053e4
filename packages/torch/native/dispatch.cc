#include "dispatch.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/function_schema.h>
#include <ATen/core/jit_type.h>
#include <ATen/core/stack.h>

#include <sstream>
#include <string>
#include <vector>

#include "errors.h"
#include "handles.h"

namespace tgt {
namespace {

enum class Kind {
  Tensor,
  TensorList,
  OptTensorList,
  Int,
  IntList,
  Float,
  FloatList,
  Bool,
  BoolList,
  Scalar,
  String,
  Device,
  Generator,
  Unsupported,
};

struct ArgSpec {
  std::string name;
  Kind kind;
  bool optional;
  c10::optional<int32_t> n;
  c10::optional<c10::IValue> defaultValue;
};

struct OpEntry {
  c10::OperatorHandle handle;
  std::string qualifiedName;
  std::vector<ArgSpec> args;
  size_t returnCount;
  // In-place and out= ops return their first argument; JS keeps its own object.
  bool returnsFirstArgAlias;
};

std::vector<OpEntry>& registry() {
  static std::vector<OpEntry> entries;
  return entries;
}

Kind kindOf(const c10::TypePtr& type) {
  using c10::TypeKind;
  switch (type->kind()) {
    case TypeKind::TensorType: return Kind::Tensor;
    case TypeKind::IntType:
    case TypeKind::SymIntType:
    case TypeKind::ScalarTypeType:
    case TypeKind::LayoutType:
    case TypeKind::MemoryFormatType: return Kind::Int;
    case TypeKind::FloatType: return Kind::Float;
    case TypeKind::BoolType: return Kind::Bool;
    case TypeKind::NumberType: return Kind::Scalar;
    case TypeKind::StringType: return Kind::String;
    case TypeKind::DeviceObjType: return Kind::Device;
    case TypeKind::GeneratorType: return Kind::Generator;
    case TypeKind::ListType: {
      auto elem = type->expectRef<c10::ListType>().getElementType();
      if (auto opt = elem->cast<c10::OptionalType>()) {
        return opt->getElementType()->kind() == TypeKind::TensorType ? Kind::OptTensorList
                                                                     : Kind::Unsupported;
      }
      switch (kindOf(elem)) {
        case Kind::Tensor: return Kind::TensorList;
        case Kind::Int: return Kind::IntList;
        case Kind::Float: return Kind::FloatList;
        case Kind::Bool: return Kind::BoolList;
        default: return Kind::Unsupported;
      }
    }
    default: return Kind::Unsupported;
  }
}

ArgSpec specOf(const c10::Argument& arg) {
  ArgSpec spec;
  spec.name = arg.name();
  c10::TypePtr type = arg.type();
  spec.optional = false;
  if (auto opt = type->cast<c10::OptionalType>()) {
    spec.optional = true;
    type = opt->getElementType();
  }
  spec.kind = kindOf(type);
  spec.n = arg.N();
  spec.defaultValue = arg.default_value();
  return spec;
}

std::string describeValue(const Napi::Value& v) {
  if (v.IsNumber() && handles().isLive(v.As<Napi::Number>().Int64Value())) {
    const at::Tensor& t = handles().get(v.Env(), v.As<Napi::Number>().Int64Value());
    std::ostringstream os;
    os << t.sizes() << " " << t.scalar_type();
    return os.str();
  }
  return "";
}

std::string describeInputs(const OpEntry& op, const Napi::CallbackInfo& info) {
  std::ostringstream os;
  bool first = true;
  for (size_t i = 0; i < op.args.size() && i + 1 < info.Length(); ++i) {
    const ArgSpec& spec = op.args[i];
    if (spec.kind != Kind::Tensor) continue;
    std::string d = describeValue(info[i + 1]);
    if (d.empty()) continue;
    os << (first ? "" : ", ") << spec.name << "=" << d;
    first = false;
  }
  std::string s = os.str();
  return s.empty() ? "" : " [inputs: " + s + "]";
}

[[noreturn]] void argError(Napi::Env env, const OpEntry& op, const ArgSpec& spec, const char* expected) {
  throw Napi::TypeError::New(env, op.qualifiedName + ": argument '" + spec.name + "' expects " +
                                      expected);
}

int64_t toInt(Napi::Env env, const OpEntry& op, const ArgSpec& spec, const Napi::Value& v) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) argError(env, op, spec, "an integer");
    return static_cast<int64_t>(d);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  argError(env, op, spec, "an integer");
}

std::vector<int64_t> toIntVector(Napi::Env env, const OpEntry& op, const ArgSpec& spec,
                                 const Napi::Value& v) {
  if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    std::vector<int64_t> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) out[i] = toInt(env, op, spec, a.Get(i));
    return out;
  }
  // int[2] stride=1 style: one integer stands for all N entries, as in PyTorch.
  int64_t x = toInt(env, op, spec, v);
  return std::vector<int64_t>(spec.n.value_or(1), x);
}

c10::IValue toIValue(Napi::Env env, const OpEntry& op, const ArgSpec& spec, const Napi::Value& v) {
  if (v.IsUndefined()) {
    if (spec.defaultValue) return *spec.defaultValue;
    if (spec.optional || spec.kind == Kind::Generator) return c10::IValue();
    throw Napi::TypeError::New(env, op.qualifiedName + ": missing required argument '" +
                                        spec.name + "'");
  }
  if (v.IsNull()) {
    if (spec.optional || spec.kind == Kind::Generator) return c10::IValue();
    argError(env, op, spec, "a value (it is not optional), got null");
  }
  switch (spec.kind) {
    case Kind::Tensor: {
      if (!v.IsNumber()) argError(env, op, spec, "a Tensor");
      return handles().get(env, v.As<Napi::Number>().Int64Value());
    }
    case Kind::TensorList: {
      if (!v.IsArray()) argError(env, op, spec, "an array of Tensors");
      Napi::Array a = v.As<Napi::Array>();
      std::vector<at::Tensor> list;
      list.reserve(a.Length());
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value e = a.Get(i);
        if (!e.IsNumber()) argError(env, op, spec, "an array of Tensors");
        list.push_back(handles().get(env, e.As<Napi::Number>().Int64Value()));
      }
      return c10::IValue(list);
    }
    case Kind::OptTensorList: {
      if (!v.IsArray()) argError(env, op, spec, "an array of Tensors or nulls");
      Napi::Array a = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> list;
      list.reserve(a.Length());
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value e = a.Get(i);
        if (e.IsNull() || e.IsUndefined()) {
          list.push_back(c10::nullopt);
        } else if (e.IsNumber()) {
          list.push_back(handles().get(env, e.As<Napi::Number>().Int64Value()));
        } else {
          argError(env, op, spec, "an array of Tensors or nulls");
        }
      }
      return c10::IValue(list);
    }
    case Kind::Int: return c10::IValue(toInt(env, op, spec, v));
    case Kind::IntList: return c10::IValue(toIntVector(env, op, spec, v));
    case Kind::Float: {
      if (!v.IsNumber()) argError(env, op, spec, "a number");
      return c10::IValue(v.As<Napi::Number>().DoubleValue());
    }
    case Kind::FloatList: {
      std::vector<double> out;
      if (v.IsArray()) {
        Napi::Array a = v.As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); ++i) {
          Napi::Value e = a.Get(i);
          if (!e.IsNumber()) argError(env, op, spec, "an array of numbers");
          out.push_back(e.As<Napi::Number>().DoubleValue());
        }
      } else if (v.IsNumber()) {
        out.assign(spec.n.value_or(1), v.As<Napi::Number>().DoubleValue());
      } else {
        argError(env, op, spec, "an array of numbers");
      }
      return c10::IValue(out);
    }
    case Kind::Bool: {
      if (!v.IsBoolean()) argError(env, op, spec, "a boolean");
      return c10::IValue(v.As<Napi::Boolean>().Value());
    }
    case Kind::BoolList: {
      if (!v.IsArray()) argError(env, op, spec, "an array of booleans");
      Napi::Array a = v.As<Napi::Array>();
      c10::List<bool> out;
      for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).ToBoolean().Value());
      return c10::IValue(out);
    }
    case Kind::Scalar: {
      if (v.IsBoolean()) return c10::IValue(at::Scalar(v.As<Napi::Boolean>().Value()));
      if (v.IsBigInt()) {
        bool lossless = true;
        return c10::IValue(at::Scalar(static_cast<int64_t>(v.As<Napi::BigInt>().Int64Value(&lossless))));
      }
      if (!v.IsNumber()) argError(env, op, spec, "a number");
      double d = v.As<Napi::Number>().DoubleValue();
      // Integral numbers behave like Python ints in type promotion (int tensor + 1 stays int).
      if (std::isfinite(d) && d == static_cast<double>(static_cast<int64_t>(d)) && std::abs(d) < 9.0e15) {
        return c10::IValue(at::Scalar(static_cast<int64_t>(d)));
      }
      return c10::IValue(at::Scalar(d));
    }
    case Kind::String: {
      if (!v.IsString()) argError(env, op, spec, "a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    }
    case Kind::Device: {
      if (!v.IsString()) argError(env, op, spec, "a device string such as 'cpu' or 'cuda:0'");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    }
    case Kind::Generator: return c10::IValue();
    case Kind::Unsupported: break;
  }
  argError(env, op, spec, "a type this binding does not support");
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return Napi::Number::New(env, handles().add(t));
  }
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      at::Tensor t = list.get(i);
      a.Set(static_cast<uint32_t>(i),
            t.defined() ? Napi::Value(Napi::Number::New(env, handles().add(t))) : env.Null());
    }
    return a;
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isIntList()) {
    auto list = v.toIntVector();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(list[i]));
    return a;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array a = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) a.Set(static_cast<uint32_t>(i), fromIValue(env, elems[i]));
    return a;
  }
  throw Napi::Error::New(env, "unsupported return type " + v.tagKind());
}

// findOp(name, overload) -> op index, resolved once per process by the TS layer.
Napi::Value FindOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 ? info[1].As<Napi::String>().Utf8Value() : "";
  return guarded(info, name, [&]() -> Napi::Value {
    auto maybe = c10::Dispatcher::singleton().findOp(c10::OperatorName(name, overload));
    if (!maybe) {
      throw Napi::Error::New(env, "no ATen operator named " + name + (overload.empty() ? "" : "." + overload) +
                                      " in this libtorch");
    }
    OpEntry entry{*maybe, name + (overload.empty() ? "" : "." + overload), {}, 0, false};
    const c10::FunctionSchema& schema = maybe->schema();
    for (const auto& arg : schema.arguments()) entry.args.push_back(specOf(arg));
    entry.returnCount = schema.returns().size();
    if (entry.returnCount == 1 && !schema.arguments().empty()) {
      const auto* ret = schema.returns()[0].alias_info();
      const auto* first = schema.arguments()[0].alias_info();
      entry.returnsFirstArgAlias = ret && ret->isWrite() && first && first->isWrite() &&
                                   ret->beforeSets() == first->beforeSets();
    }
    registry().push_back(std::move(entry));
    return Napi::Number::New(env, static_cast<double>(registry().size() - 1));
  });
}

// callOp(opIndex, ...args): positional arguments in schema order; undefined = default.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto index = info[0].As<Napi::Number>().Int64Value();
  if (index < 0 || index >= static_cast<int64_t>(registry().size())) {
    throw Napi::Error::New(env, "callOp: unknown operator index");
  }
  const OpEntry& op = registry()[index];
  if (info.Length() - 1 > op.args.size()) {
    throw Napi::TypeError::New(env, op.qualifiedName + ": takes " + std::to_string(op.args.size()) +
                                        " arguments, got " + std::to_string(info.Length() - 1));
  }
  torch::jit::Stack stack;
  stack.reserve(op.args.size());
  for (size_t i = 0; i < op.args.size(); ++i) {
    Napi::Value v = i + 1 < info.Length() ? info[i + 1] : env.Undefined();
    stack.push_back(toIValue(env, op, op.args[i], v));
  }
  try {
    op.handle.callBoxed(&stack);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, op.qualifiedName + ": " + e.what_without_backtrace() +
                                    describeInputs(op, info));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, op.qualifiedName + ": " + e.what() + describeInputs(op, info));
  }
  if (op.returnsFirstArgAlias || stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(env, stack[0]);
  Napi::Array out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
  return out;
}

std::string typeString(const c10::TypePtr& t) { return t->annotation_str(); }

Napi::Object argumentInfo(Napi::Env env, const c10::Argument& arg) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", arg.name());
  o.Set("type", typeString(arg.type()));
  o.Set("realType", typeString(arg.real_type()));
  if (arg.N()) o.Set("n", *arg.N());
  o.Set("hasDefault", arg.default_value().has_value());
  if (arg.default_value()) {
    std::ostringstream os;
    os << *arg.default_value();
    o.Set("default", os.str());
  }
  o.Set("kwargOnly", arg.kwarg_only());
  o.Set("writes", arg.alias_info() != nullptr && arg.alias_info()->isWrite());
  return o;
}

// schemaInfo(name, overload): the structured schema, read by the typings generator.
Napi::Value SchemaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 ? info[1].As<Napi::String>().Utf8Value() : "";
  auto maybe = c10::Dispatcher::singleton().findOp(c10::OperatorName(name, overload));
  if (!maybe) return env.Null();
  const c10::FunctionSchema& schema = maybe->schema();
  Napi::Object o = Napi::Object::New(env);
  std::ostringstream os;
  os << schema;
  o.Set("schema", os.str());
  Napi::Array args = Napi::Array::New(env);
  for (const auto& a : schema.arguments()) args.Set(args.Length(), argumentInfo(env, a));
  Napi::Array rets = Napi::Array::New(env);
  for (const auto& r : schema.returns()) rets.Set(rets.Length(), argumentInfo(env, r));
  o.Set("arguments", args);
  o.Set("returns", rets);
  return o;
}

Napi::Value ListOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto names = c10::Dispatcher::singleton().getAllOpNames();
  Napi::Array a = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& n = names[i];
    a.Set(static_cast<uint32_t>(i), n.name + (n.overload_name.empty() ? "" : "." + n.overload_name));
  }
  return a;
}

}  // namespace

void registerDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, FindOp, "findOp"));
  exports.Set("callOp", Napi::Function::New(env, CallOp, "callOp"));
  exports.Set("schemaInfo", Napi::Function::New(env, SchemaInfo, "schemaInfo"));
  exports.Set("listOps", Napi::Function::New(env, ListOps, "listOps"));
}

}  // namespace tgt
