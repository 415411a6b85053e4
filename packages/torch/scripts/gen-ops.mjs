#!/usr/bin/env node
// Generates src/generated/aten.ts, typed wrappers over libtorch's own operator schemas.
// The list below is the only hand-kept part: which operators we expose, and under which
// TypeScript name when an overload needs one. Everything else (argument names, types,
// defaults, in-place returns) is read from the dispatcher.
//
// Usage: node scripts/gen-ops.mjs          writes the file
//        node scripts/gen-ops.mjs --check  exits 1 if the file is stale
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(root, 'src', 'generated', 'aten.ts');

// [schema name, overload, TypeScript name]
export const OPS = [
  // arithmetic and pointwise
  ['add', 'Tensor', 'add'], ['add', 'Scalar', 'addScalar'], ['sub', 'Tensor', 'sub'], ['sub', 'Scalar', 'subScalar'],
  ['rsub', 'Scalar', 'rsubScalar'],
  ['mul', 'Tensor', 'mul'], ['mul', 'Scalar', 'mulScalar'], ['div', 'Tensor', 'div'], ['div', 'Scalar', 'divScalar'],
  ['div', 'Tensor_mode', 'divMode'], ['remainder', 'Scalar', 'remainderScalar'],
  ['pow', 'Tensor_Scalar', 'pow'], ['pow', 'Tensor_Tensor', 'powTensor'], ['pow', 'Scalar', 'powScalarBase'],
  ['neg', '', 'neg'], ['abs', '', 'abs'], ['sqrt', '', 'sqrt'], ['rsqrt', '', 'rsqrt'], ['exp', '', 'exp'],
  ['log', '', 'log'], ['log1p', '', 'log1p'], ['sin', '', 'sin'], ['cos', '', 'cos'], ['tanh', '', 'tanh'],
  ['sigmoid', '', 'sigmoid'], ['relu', '', 'relu'], ['gelu', '', 'gelu'], ['silu', '', 'silu'],
  ['leaky_relu', '', 'leakyRelu'], ['softplus', '', 'softplus'],
  ['clamp', '', 'clamp'], ['clamp_min', '', 'clampMin'], ['clamp_max', '', 'clampMax'],
  ['floor', '', 'floor'], ['ceil', '', 'ceil'], ['round', '', 'round'], ['sign', '', 'sign'],
  ['reciprocal', '', 'reciprocal'], ['maximum', '', 'maximum'], ['minimum', '', 'minimum'],
  ['where', 'self', 'where'], ['where', 'ScalarOther', 'whereScalarOther'], ['where', 'ScalarSelf', 'whereScalarSelf'],
  ['eq', 'Tensor', 'eq'], ['eq', 'Scalar', 'eqScalar'], ['ne', 'Tensor', 'ne'], ['ne', 'Scalar', 'neScalar'],
  ['gt', 'Tensor', 'gt'], ['gt', 'Scalar', 'gtScalar'], ['lt', 'Tensor', 'lt'], ['lt', 'Scalar', 'ltScalar'],
  ['ge', 'Tensor', 'ge'], ['ge', 'Scalar', 'geScalar'], ['le', 'Tensor', 'le'], ['le', 'Scalar', 'leScalar'],
  ['logical_not', '', 'logicalNot'], ['logical_and', '', 'logicalAnd'], ['logical_or', '', 'logicalOr'],
  ['isnan', '', 'isnan'], ['isfinite', '', 'isfinite'], ['nan_to_num', '', 'nanToNum'],
  ['addcmul', '', 'addcmul'], ['addcdiv', '', 'addcdiv'], ['lerp', 'Scalar', 'lerp'],
  // in place (return their first argument)
  ['add_', 'Tensor', 'add_'], ['add_', 'Scalar', 'addScalar_'], ['sub_', 'Tensor', 'sub_'],
  ['mul_', 'Tensor', 'mul_'], ['mul_', 'Scalar', 'mulScalar_'], ['div_', 'Tensor', 'div_'], ['div_', 'Scalar', 'divScalar_'],
  ['addcmul_', '', 'addcmul_'], ['addcdiv_', '', 'addcdiv_'], ['lerp_', 'Scalar', 'lerp_'],
  ['copy_', '', 'copy_'], ['zero_', '', 'zero_'], ['fill_', 'Scalar', 'fill_'], ['clamp_', '', 'clamp_'],
  ['uniform_', '', 'uniform_'], ['normal_', '', 'normal_'], ['sqrt_', '', 'sqrt_'], ['sigmoid_', '', 'sigmoid_'], ['erfinv_', '', 'erfinv_'], ['masked_fill_', 'Scalar', 'maskedFill_'],
  // reductions
  ['sum', '', 'sumAll'], ['sum', 'dim_IntList', 'sum'], ['mean', '', 'meanAll'], ['mean', 'dim', 'mean'],
  ['max', '', 'maxAll'], ['max', 'dim', 'max'], ['min', '', 'minAll'], ['min', 'dim', 'min'],
  ['amax', '', 'amax'], ['amin', '', 'amin'], ['argmax', '', 'argmax'], ['argmin', '', 'argmin'],
  ['var', 'correction', 'variance'], ['std', 'correction', 'std'], ['prod', '', 'prodAll'],
  ['all', '', 'allAll'], ['any', '', 'anyAll'], ['logsumexp', '', 'logsumexp'], ['cumsum', '', 'cumsum'],
  ['linalg_vector_norm', '', 'vectorNorm'], ['norm', 'ScalarOpt_dim', 'norm'],
  ['topk', '', 'topk'], ['sort', '', 'sort'], ['allclose', '', 'allclose'], ['equal', '', 'equal'],
  // linear algebra
  ['matmul', '', 'matmul'], ['mm', '', 'mm'], ['bmm', '', 'bmm'], ['einsum', '', 'einsum'],
  ['_native_multi_head_attention', '', 'nativeMultiHeadAttention', { nullable: true }], ['_version', '', 'version'],
  ['linear', '', 'linear'], ['addmm', '', 'addmm'], ['baddbmm', '', 'baddbmm'], ['outer', '', 'outer'],
  // neural network
  ['conv2d', '', 'conv2d'], ['conv_transpose2d', 'input', 'convTranspose2d'], ['conv1d', '', 'conv1d'],
  ['layer_norm', '', 'layerNorm'], ['group_norm', '', 'groupNorm'], ['batch_norm', '', 'batchNorm'],
  ['softmax', 'int', 'softmax'], ['log_softmax', 'int', 'logSoftmax'], ['dropout', '', 'dropout'],
  ['upsample_nearest2d', 'vec', 'upsampleNearest2d'], ['upsample_bilinear2d', 'vec', 'upsampleBilinear2d'],
  ['upsample_bicubic2d', 'vec', 'upsampleBicubic2d'], ['grid_sampler', '', 'gridSampler'],
  ['pad', '', 'pad'], ['constant_pad_nd', '', 'constantPadNd'],
  ['max_pool2d', '', 'maxPool2d'], ['avg_pool2d', '', 'avgPool2d'], ['adaptive_avg_pool2d', '', 'adaptiveAvgPool2d'],
  ['cosine_similarity', '', 'cosineSimilarity'], ['embedding', '', 'embedding'],
  ['binary_cross_entropy_with_logits', '', 'binaryCrossEntropyWithLogits'],
  ['cross_entropy_loss', '', 'crossEntropyLoss'], ['mse_loss', '', 'mseLoss'], ['l1_loss', '', 'l1Loss'],
  ['one_hot', '', 'oneHot'],
  // shape and indexing
  ['reshape', '', 'reshape'], ['view', '', 'view'], ['permute', '', 'permute'], ['transpose', 'int', 'transpose'],
  ['t', '', 't'], ['flatten', 'using_ints', 'flatten'], ['unflatten', 'int', 'unflatten'], ['unsqueeze', '', 'unsqueeze'],
  ['squeeze', 'dim', 'squeezeDim'], ['squeeze', '', 'squeeze'], ['expand', '', 'expand'], ['expand_as', '', 'expandAs'],
  ['contiguous', '', 'contiguous'], ['narrow', '', 'narrow'], ['select', 'int', 'select'], ['slice', 'Tensor', 'slice'],
  ['cat', '', 'cat'], ['stack', '', 'stack'], ['split', 'Tensor', 'split'], ['split_with_sizes', '', 'splitWithSizes'],
  ['chunk', '', 'chunk'], ['unbind', 'int', 'unbind'], ['repeat', '', 'repeat'], ['repeat_interleave', 'self_int', 'repeatInterleave'],
  ['index_select', '', 'indexSelect'], ['index_copy_', '', 'indexCopy_'], ['gather', '', 'gather'], ['scatter', 'src', 'scatter'],
  ['masked_fill', 'Scalar', 'maskedFill'], ['index', 'Tensor', 'index'], ['flip', '', 'flip'], ['roll', '', 'roll'],
  ['tril', '', 'tril'], ['triu', '', 'triu'], ['clone', '', 'clone'], ['detach', '', 'detach'],
  ['to', 'dtype', 'toDtype'], ['to', 'device', 'toDevice'], ['nonzero', '', 'nonzero'],
  ['pin_memory', '', 'pinMemory'], ['is_pinned', '', 'isPinned'],
  // creation
  ['zeros', '', 'zeros'], ['ones', '', 'ones'], ['full', '', 'full'], ['empty', 'memory_format', 'empty'],
  ['randn', '', 'randn'], ['rand', '', 'rand'], ['randint', 'low', 'randint'], ['randperm', '', 'randperm'],
  ['arange', 'start_step', 'arange'], ['linspace', '', 'linspace'], ['eye', '', 'eye'],
  ['zeros_like', '', 'zerosLike'], ['ones_like', '', 'onesLike'], ['full_like', '', 'fullLike'],
  ['randn_like', '', 'randnLike'], ['rand_like', '', 'randLike'], ['empty_like', '', 'emptyLike'],
  ['bernoulli', 'p', 'bernoulli'],
];

const RESERVED = new Set(['function', 'default', 'in', 'delete', 'new', 'var', 'let', 'const', 'class', 'self']);

function camel(name) {
  return name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}

function paramName(name) {
  if (name === 'self') return 'input';
  const c = camel(name);
  return RESERVED.has(c) ? `${c}_` : c;
}

/** TypeScript type and JS conversion for one schema argument. */
function argKind(arg) {
  const optional = arg.type.startsWith('Optional[');
  const inner = optional ? arg.type.slice(9, -1) : arg.type;
  const real = (optional ? arg.realType.slice(9, -1) : arg.realType).replace(/^List\[(.*)\]$/, '$1[]');
  let ts;
  let convert = (v) => v;
  if (inner === 'Tensor') {
    ts = 'Tensor';
    convert = (v) => (optional || arg.hasDefault ? `optId(${v})` : `${v}.id`);
  } else if (inner === 'List[Tensor]') {
    ts = 'Tensor[]';
    convert = (v) => `ids(${v})`;
  } else if (inner === 'List[Optional[Tensor]]') {
    ts = '(Tensor | null)[]';
    convert = (v) => `optIds(${v})`;
  } else if (inner === 'int' && real === 'ScalarType') {
    ts = 'DType';
    convert = (v) => `optDtype(${v})`;
  } else if (inner === 'int' || inner === 'SymInt') {
    ts = 'number';
  } else if (inner === 'List[int]' || inner === 'List[SymInt]') {
    ts = arg.n ? 'number | number[]' : 'number[]';
  } else if (inner === 'float') {
    ts = 'number';
  } else if (inner === 'List[float]') {
    ts = 'number[]';
  } else if (inner === 'bool') {
    ts = 'boolean';
  } else if (inner === 'List[bool]') {
    ts = 'boolean[]';
  } else if (inner === 'Scalar' || inner === 'number') {
    ts = 'number';
  } else if (inner === 'str') {
    ts = 'string';
  } else if (inner === 'Device') {
    ts = 'Device';
  } else if (inner === 'Generator') {
    return { skip: true };
  } else {
    throw new Error(`gen-ops: unmapped schema type ${arg.type} (${arg.realType}) for argument ${arg.name}`);
  }
  return { ts, convert, optional };
}

/** flags.nullable: Tensor results may be undefined (e.g. attention weights not asked for) -> null. */
function returnKind(schema, flags = {}) {
  const rets = schema.returns;
  if (rets.length === 0) return { ts: 'void', expr: () => '' };
  if (rets.length === 1 && rets[0].writes && schema.arguments[0]?.writes) {
    return { ts: 'Tensor', expr: (call, first) => `${call};\n  return ${first};` };
  }
  const one = (t) => {
    if (t === 'Tensor' && flags.nullable) return { ts: 'Tensor | null', wrap: (v) => `(${v} === null ? null : wrap(${v}))` };
    if (t === 'Tensor') return { ts: 'Tensor', wrap: (v) => `wrap(${v})` };
    if (t === 'List[Tensor]') return { ts: 'Tensor[]', wrap: (v) => `(${v} as number[]).map(wrap)` };
    if (t === 'int' || t === 'float' || t === 'Scalar') return { ts: 'number', wrap: (v) => `${v} as number` };
    if (t === 'bool') return { ts: 'boolean', wrap: (v) => `${v} as boolean` };
    throw new Error(`gen-ops: unmapped return type ${t}`);
  };
  if (rets.length === 1) {
    const r = one(rets[0].type);
    return { ts: r.ts, expr: (call) => `return ${r.wrap(call)};` };
  }
  const parts = rets.map((r) => one(r.type));
  return {
    ts: `[${parts.map((p) => p.ts).join(', ')}]`,
    expr: (call) =>
      `const r = ${call} as unknown[];\n  return [${parts.map((p, i) => p.wrap(`r[${i}]`)).join(', ')}];`,
  };
}

function generateOne(native, [name, overload, tsName, flags]) {
  const schema = native.schemaInfo(`aten::${name}`, overload);
  if (!schema) throw new Error(`gen-ops: aten::${name}.${overload} does not exist in this libtorch`);
  const positional = [];
  const options = [];
  const callArgs = [];
  let first = null;
  for (const arg of schema.arguments) {
    const kind = argKind(arg);
    if (kind.skip) {
      callArgs.push('null');
      continue;
    }
    const p = paramName(arg.name);
    if (first === null) first = p;
    if (arg.hasDefault || arg.kwargOnly) {
      options.push(`${p}?: ${kind.ts}${kind.optional || kind.ts === 'Tensor' ? ' | null' : ''}`);
      callArgs.push(kind.convert(`options.${p}`));
    } else {
      positional.push(`${p}: ${kind.ts}${kind.optional ? ' | null' : ''}`);
      callArgs.push(kind.convert(p));
    }
  }
  while (callArgs.length > 0 && callArgs[callArgs.length - 1] === 'null') callArgs.pop();
  const params = [...positional];
  if (options.length > 0) params.push(`options: { ${options.join('; ')} } = {}`);
  const opVar = `op_${tsName}`;
  const ret = returnKind(schema, flags);
  const call = `native.callOp(${[`${opVar}.id`, ...callArgs].join(', ')})`;
  return (
    `const ${opVar} = new LazyOp('aten::${name}', '${overload}');\n` +
    `/** \`${schema.schema}\` */\n` +
    `export function ${tsName}(${params.join(', ')}): ${ret.ts} {\n  ${ret.expr(call, first)}\n}\n`
  );
}

export function generate(native) {
  const header =
    '// Generated by scripts/gen-ops.mjs from the operator schemas of libtorch ' +
    `${native.libtorchVersion}; do not edit.\n` +
    '// Low-level: one function per ATen overload. Prefer Tensor methods and `F` (functional.ts).\n' +
    "import type { DType } from '../dtype.js';\n" +
    "import { native } from '../native.js';\n" +
    "import { LazyOp } from '../op.js';\n" +
    "import { type Device, type Tensor, ids, optDtype, optId, optIds, wrap } from '../tensor.js';\n\n";
  return header + OPS.map((op) => generateOne(native, op)).join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const require = createRequire(import.meta.url);
  const native = require(process.env.TGCNET_TORCH_ADDON ?? join(root, 'native', 'build', 'Release', 'torch_native.node'));
  const text = generate(native);
  if (process.argv.includes('--check')) {
    const current = readFileSync(OUT, 'utf8');
    if (current !== text) {
      process.stderr.write('src/generated/aten.ts is stale: run `npm run gen:ops -w @tgcnet/torch`\n');
      process.exit(1);
    }
  } else {
    writeFileSync(`${OUT}.tmp`, text);
    renameSync(`${OUT}.tmp`, OUT);
    process.stdout.write(`wrote ${OUT} (${OPS.length} operators)\n`);
  }
}
