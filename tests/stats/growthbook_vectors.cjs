#!/usr/bin/env node
// Generates tests/stats/growthbook_vectors.json for tests/stats_growthbook.rs: GrowthBook's own
// TypeScript, run on its published test vectors and on many more inputs, for lift's
// `stats::correction` (Holm–Bonferroni, Benjamini–Hochberg, adjusted intervals) and
// `stats::power` (relative MDE, fixed-horizon and sequential).
//
//   npm install --prefix /tmp/gbvectors typescript@5 lodash \
//     @stdlib/stats-base-dists-normal-quantile@0.1.1 @stdlib/stats-base-dists-normal-cdf@0.1.0 \
//     @stdlib/stats-base-dists-normal-pdf@0.1.0
//   NODE_PATH=/tmp/gbvectors/node_modules node tests/stats/growthbook_vectors.cjs \
//     <growthbook checkout> <its commit> > tests/stats/growthbook_vectors.json
//
// The checkout needs only the two files named below (EXPERIMENTS, POWER); the file is committed
// from growthbook/growthbook@8f1db4456915a8e7b7faf23d5632ca7219d2f469 (2026-08-21), and rerunning
// on that commit reproduces it byte for byte.
//
// The GrowthBook code is read from the checkout at run time and never copied here: the functions
// named below are cut out of packages/shared/src/experiments/experiments.ts (which imports half
// the app) with the TypeScript compiler's parser, and power/power.ts is transpiled whole. Its
// `@stdlib/stats/base/dists/normal` is served by the 0.1 versions of the normal's quantile, cdf
// and pdf packages, the ones GrowthBook's `@stdlib/stats ^0.1.1` bundles.
//
// Three sections:
// - `published`: the vectors of packages/shared/test/experiments.test.ts and power.test.ts, copied
//   as data with the precision they are written to (`decimals`, null when the test compares
//   exactly). The script checks GrowthBook's functions still give them.
// - `generated`: inputs from a seeded generator, outputs of GrowthBook's functions at full double
//   precision (numbers are printed shortest-roundtrip, so Rust reads GrowthBook's exact doubles).
// - `derived`: days until a target MDE, by bisection on the sample over power.ts's
//   `findMdeFrequentist`; power.ts has no such function, so this checks that lift's search agrees
//   with GrowthBook's MDE, not a GrowthBook output.

'use strict';

const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const [checkout, commit] = process.argv.slice(2);
if (!checkout || !commit) {
  console.error('usage: node growthbook_vectors.cjs <growthbook checkout> <commit>');
  process.exit(2);
}
const EXPERIMENTS = 'packages/shared/src/experiments/experiments.ts';
const POWER = 'packages/shared/src/power/power.ts';

const normal = {
  quantile: require('@stdlib/stats-base-dists-normal-quantile'),
  cdf: require('@stdlib/stats-base-dists-normal-cdf'),
  pdf: require('@stdlib/stats-base-dists-normal-pdf'),
};
const shims = {
  '@stdlib/stats/base/dists/normal': normal,
  'lodash/cloneDeep': require('lodash/cloneDeep'),
  // power.ts reads it only for its form's defaults, which no function here uses.
  '../constants': { DEFAULT_PROPER_PRIOR_STDDEV: 0.3 },
};

/** Runs TypeScript source as a CommonJS module whose imports are the shims above. */
function load(source, name) {
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true },
    fileName: name,
  });
  const module = { exports: {} };
  const requireShim = (id) => {
    if (!(id in shims)) throw new Error(`${name} imports ${id}, which has no shim`);
    return shims[id];
  };
  new Function('module', 'exports', 'require', outputText)(module, module.exports, requireShim);
  return module.exports;
}

/** The named top-level functions of a TypeScript file, and the imports they use, as a module. */
function cutFunctions(file, names) {
  const text = fs.readFileSync(file, 'utf8');
  const tree = ts.createSourceFile(file, text, ts.ScriptTarget.ES2020, true);
  const parts = [
    'import normal from "@stdlib/stats/base/dists/normal";',
    'import cloneDeep from "lodash/cloneDeep";',
  ];
  const found = new Set();
  for (const statement of tree.statements) {
    if (ts.isFunctionDeclaration(statement) && names.includes(statement.name?.text)) {
      parts.push(statement.getText(tree));
      found.add(statement.name.text);
    }
  }
  const missing = names.filter((n) => !found.has(n));
  if (missing.length) throw new Error(`${file} has no ${missing.join(', ')}`);
  // Type names in signatures only; `any` keeps the transpiler quiet about them.
  return load(`type IndexedPValue = any;\n${parts.join('\n\n')}`, file);
}

const gb = cutFunctions(path.join(checkout, EXPERIMENTS), [
  'adjustPValuesBenjaminiHochberg',
  'adjustPValuesHolmBonferroni',
  'adjustedCI',
  'getAdjustedCI',
]);
const power = load(fs.readFileSync(path.join(checkout, POWER), 'utf8'), POWER);

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

/** GrowthBook's adjustment functions return the family sorted, with indices: back to input order. */
function adjust(method, pValues) {
  const fn = method === 'holm_bonferroni' ? gb.adjustPValuesHolmBonferroni : gb.adjustPValuesBenjaminiHochberg;
  const out = new Array(pValues.length);
  for (const { pValue, index } of fn(pValues.map((p, i) => ({ pValue: p, index: [i] })))) {
    out[index[0]] = pValue;
  }
  return out;
}

/** power.ts's metric object from a fixture metric. */
function metricParams(metric) {
  const common = {
    name: 'm',
    effectSize: 0.05, // findMdeFrequentist does not read it
    overrideMetricLevelSettings: false,
    overridePriorLiftMean: 0,
    overridePriorLiftStandardDeviation: 1,
    overrideProper: false,
    metricPriorLiftMean: 0,
    metricPriorLiftStandardDeviation: 1,
    metricProper: false,
  };
  return metric.kind === 'binomial'
    ? { ...common, type: 'binomial', conversionRate: metric.conversion_rate }
    : { ...common, type: 'mean', mean: metric.mean, standardDeviation: metric.standard_deviation };
}

function mde(c) {
  const result = power.findMdeFrequentist(
    metricParams(c.metric), c.power, c.identities, c.variants, c.alpha, c.sequential_tuning ?? false,
  );
  return result.type === 'success' ? result.mde : null;
}

function roundsTo(value, expected, decimals) {
  return decimals === null ? value === expected : +value.toFixed(decimals) === expected;
}

function check(what, value, expected, decimals) {
  if (!roundsTo(value, expected, decimals)) {
    throw new Error(`GrowthBook no longer gives its published ${what}: ${value} vs ${expected}`);
  }
}

/** mulberry32: a small seeded generator, so the file is reproducible. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ── published ────────────────────────────────────────────────────────────────────────────────

// experiments.test.ts lists adjusted values sorted, each with its input index; here they are in
// input order.
const published = {
  source: `growthbook/growthbook@${commit} packages/shared/test/experiments.test.ts ` +
    '("pvalue correction method", "pvalue correction on results") and packages/shared/test/power.test.ts',
  corrections: [
    { name: 'does HB procedure correctly', method: 'holm_bonferroni', decimals: null,
      p_values: [0.01, 0.04, 0.03, 0.005, 0.55, 0.6], adjusted: [0.05, 0.12, 0.12, 0.03, 1, 1] },
    { name: 'does BH procedure correctly', method: 'benjamini_hochberg', decimals: 8,
      p_values: [0.898, 0.138, 0.007, 0.964, 0.538, 0.006, 0.138],
      adjusted: [0.964, 0.2415, 0.0245, 0.964, 0.7532, 0.0245, 0.2415] },
    { name: 'pvals and CIs adjusted in place (holm-bonferroni)', method: 'holm_bonferroni', decimals: null,
      p_values: [0.025, 0.03], adjusted: [0.05, 0.05] },
    { name: 'pvals and CIs adjusted in place (benjamini-hochberg)', method: 'benjamini_hochberg', decimals: null,
      p_values: [0.025, 0.03], adjusted: [0.03, 0.03] },
  ],
  // `adjustedCI(p, lift, α)` alone; through lift's `adjusted_interval` with the raw interval the
  // point `[lift, lift]`, which any backed-out interval is wider than. The test also asserts
  // lower > 0 and upper < 0.2 for the first.
  intervals: [
    { name: 'adjusts CIs as we expect (95%)', decimals: 8, adjusted_p: 0.049999999, estimate: 0.1,
      alpha: 0.05, raw: [0.1, 0.1], expected: [0, 0.2], strictly_inside: [0, 0.2] },
    { name: 'adjusts CIs as we expect (99%)', decimals: 8, adjusted_p: 0.0099999999, estimate: 0.1,
      alpha: 0.01, raw: [0.1, 0.1], expected: [0, 0.2], strictly_inside: null },
  ],
  mdes: [],
};
for (const c of published.corrections) {
  adjust(c.method, c.p_values).forEach((v, i) => check(c.name, v, c.adjusted[i], c.decimals));
}
for (const c of published.intervals) {
  gb.adjustedCI(c.adjusted_p, c.estimate, c.alpha).forEach((v, i) => check(c.name, v, c.expected[i], c.decimals));
}

const meanMetric = { kind: 'mean', mean: 10, standard_deviation: Math.sqrt(3909.9997749994377) };
for (const [tuning, expected] of [[null, 0.07027], [5000, 0.12821]]) {
  published.mdes.push({
    name: `calculates ${tuning ? 'sequential' : 'two-tailed'} mde correctly`, decimals: 5,
    metric: meanMetric, identities: 400000, variants: 3, alpha: 0.05, power: 0.8,
    sequential_tuning: tuning, mde: expected,
  });
}
// "checks power" and "checks sequential power": powerMetricWeeks' effectSize per week is
// findMdeFrequentist at 80 % power for 4500·week identities over 3 variants.
const weekly = {
  fixed: [0.36767, 1.26769, 0.24505, 0.71941, 0.19525, 0.54299, 0.16673, 0.4506, 0.14774, 0.39208,
    0.13394, 0.35099, 0.12336, 0.32018, 0.11491, 0.29603, 0.10796, 0.27647],
  sequential: [0.65545, 4.33868, 0.4112, 1.51846, 0.32394, 1.04943, 0.27607, 0.84084, 0.24484,
    0.71862, 0.22241, 0.63663, 0.20532, 0.577, 0.19172, 0.53123, 0.18058, 0.49473],
};
const weeklyMetrics = [
  { kind: 'binomial', conversion_rate: 0.1 },
  { kind: 'mean', mean: 0.1, standard_deviation: Math.sqrt(0.5) },
];
for (const [variant, tuning] of [['fixed', null], ['sequential', 5000]]) {
  weekly[variant].forEach((expected, k) => {
    const week = Math.floor(k / 2) + 1;
    published.mdes.push({
      name: `checks ${variant === 'sequential' ? 'sequential ' : ''}power: week ${week}, ` +
        `${k % 2 ? 'revenue' : 'click_through_rate'}`,
      decimals: 5, metric: weeklyMetrics[k % 2], identities: 4500 * week, variants: 3, alpha: 0.05,
      power: 0.8, sequential_tuning: tuning, mde: expected,
    });
  });
}
for (const c of published.mdes) check(c.name, mde(c), c.mde, c.decimals);

// ── generated ────────────────────────────────────────────────────────────────────────────────

const random = rng(20261130);
const pick = (values) => values[Math.floor(random() * values.length)];

const corrections = [];
for (let k = 0; k < 80; k++) {
  const m = 1 + Math.floor(random() * 30);
  const family = [];
  for (let i = 0; i < m; i++) {
    const r = random();
    if (r < 0.05) family.push(0);
    else if (r < 0.1) family.push(1);
    else if (r < 0.3 && family.length) family.push(pick(family)); // ties
    else family.push(random() ** 3);
  }
  for (const method of ['holm_bonferroni', 'benjamini_hochberg']) {
    corrections.push({ method, p_values: family, adjusted: adjust(method, family) });
  }
}

const intervals = [];
for (let k = 0; k < 300; k++) {
  const alpha = pick([0.01, 0.05, 0.1, 0.2]);
  const estimate = k % 25 === 0 ? 0 : (random() - 0.5) * 0.6;
  // A z-statistic between 0.05 and 4.5, so raw p-values spread over (0, 1) rather than sit at 0.
  const se = estimate === 0 ? 0.01 + random() * 0.03 : Math.abs(estimate) / (0.05 + random() * 4.45);
  const half = normal.quantile(1 - alpha / 2, 0, 1) * se;
  const raw = [estimate - half, estimate + half];
  const rawP = 2 * (1 - normal.cdf(Math.abs(estimate) / se, 0, 1));
  // Mostly larger than the raw p (a correction), some smaller (the raw interval then stands),
  // some 1 or within 1e-6 of it (no finite interval).
  const r = random();
  const adjustedP = r < 0.05 ? 1 : r < 0.1 ? 0.9999995 : Math.min(1, rawP * (0.5 + random() * 9.5));
  const ci = gb.getAdjustedCI(adjustedP, estimate, alpha, raw);
  const finite = Number.isFinite(ci[0]) && Number.isFinite(ci[1]);
  intervals.push({ estimate, raw, adjusted_p: adjustedP, alpha, expected: finite ? ci : null });
}

const metrics = [
  { kind: 'binomial', conversion_rate: 0.01 },
  { kind: 'binomial', conversion_rate: 0.1 },
  { kind: 'binomial', conversion_rate: 0.5 },
  { kind: 'binomial', conversion_rate: 0.93 },
  meanMetric,
  { kind: 'mean', mean: 0.1, standard_deviation: Math.sqrt(0.5) },
  { kind: 'mean', mean: 250, standard_deviation: 80 },
];
const mdes = [];
for (let k = 0; k < 400; k++) {
  const c = {
    metric: pick(metrics),
    identities: pick([50, 100, 1000, 4500, 20000, 100000, 400000, 3000000, 50000000]),
    variants: pick([2, 2, 3, 4]),
    alpha: pick([0.01, 0.05, 0.1]),
    power: pick([0.8, 0.8, 0.9, 0.5]),
    sequential_tuning: pick([null, null, 5000, 500, 100000]),
  };
  c.mde = mde(c);
  mdes.push(c);
}

// ── derived ──────────────────────────────────────────────────────────────────────────────────

/** Days until findMdeFrequentist reaches `target`: double, then bisect the total sample. */
function days(c) {
  const reaches = (n) => {
    const value = mde({ ...c, identities: n });
    return value !== null && value <= c.target_mde;
  };
  if (reaches(c.identities)) return 0;
  let short = c.identities;
  let enough = Math.max(c.identities, 1);
  while (!reaches(enough)) { short = enough; enough *= 2; }
  for (let i = 0; i < 2000; i++) {
    const middle = short + (enough - short) / 2;
    if (middle <= short || middle >= enough) break;
    if (reaches(middle)) enough = middle; else short = middle;
  }
  return (enough - c.identities) / c.identities_per_day;
}
const daysToTarget = [];
for (let k = 0; k < 60; k++) {
  const c = {
    metric: pick(metrics),
    identities: pick([0, 1000, 20000, 400000]),
    identities_per_day: pick([150, 4500, 60000]),
    target_mde: pick([0.01, 0.02, 0.05, 0.1, 0.3]),
    variants: pick([2, 3]),
    alpha: pick([0.01, 0.05, 0.1]),
    power: 0.8,
    sequential_tuning: pick([null, 5000]),
  };
  c.days = days(c);
  daysToTarget.push(c);
}

process.stdout.write(JSON.stringify({
  comment: `published: numbers copied as data from growthbook/growthbook@${commit} ` +
    'packages/shared/test/experiments.test.ts and packages/shared/test/power.test.ts, at the ' +
    'precision written there; generated and derived: outputs of GrowthBook\'s own functions ' +
    '(see reference) on seeded inputs, at full double precision.',
  generator: 'tests/stats/growthbook_vectors.cjs',
  reference: `growthbook/growthbook@${commit}: ${EXPERIMENTS} (adjustPValuesHolmBonferroni, ` +
    `adjustPValuesBenjaminiHochberg, adjustedCI, getAdjustedCI) and ${POWER} (findMdeFrequentist)`,
  published,
  generated: { corrections, intervals, mdes },
  derived: { days_to_target: daysToTarget },
}, null, 1) + '\n');
