// item2vec: skip-gram with negative sampling over listening sessions (word2vec with tracks for words and sessions
// for sentences). Single-threaded with a seeded generator, so the same sessions always give the same vectors.

export interface Item2vecOptions {
  dimensions: number;
  /** Tracks this many places apart in a session or closer are a (track, context) pair. */
  window: number;
  negatives: number;
  /** Passes over the sessions; more on a small log, so every build makes at least `minUpdates` steps. */
  epochs: number;
  minUpdates: number;
  maxEpochs: number;
  learningRate: number;
  seed: number;
}

export const defaultItem2vecOptions: Item2vecOptions = {
  dimensions: 32,
  window: 5,
  negatives: 5,
  epochs: 5,
  minUpdates: 300_000,
  maxEpochs: 60,
  learningRate: 0.025,
  seed: 1,
};

/** mulberry32: a small, fast, seeded generator; floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Longest stretch of training between two turns of the event loop. */
const YIELD_EVERY_MS = 20;

export interface TrainProgress {
  epoch: number;
  epochs: number;
}

/**
 * Trains one vector per vocabulary entry from sessions of vocabulary indexes. Returns the input ("word") vectors,
 * `dimensions` floats per entry, entry i at i * dimensions.
 */
export async function trainItem2vec(
  sessions: Int32Array[],
  vocabularySize: number,
  options: Item2vecOptions,
  onEpoch: (progress: TrainProgress) => void = () => undefined,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const { dimensions: dims, window, negatives, seed } = options;
  const random = seededRandom(seed);
  const input = new Float32Array(vocabularySize * dims);
  for (let i = 0; i < input.length; i++) input[i] = (random() - 0.5) / dims;
  const output = new Float32Array(vocabularySize * dims);
  const negativeTable = unigramTable(sessions, vocabularySize);
  const gradient = new Float32Array(dims);
  let tokens = 0;
  for (const session of sessions) tokens += session.length;
  const epochs = Math.min(
    options.maxEpochs,
    Math.max(options.epochs, Math.ceil(options.minUpdates / Math.max(1, tokens))),
  );
  const totalSteps = Math.max(1, tokens * epochs);
  let step = 0;
  let lastYield = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    signal?.throwIfAborted();
    for (const [sessionIndex, session] of sessions.entries()) {
      // The all-in-one server trains in its own process: give the event loop (streaming, sockets) its turn.
      if (sessionIndex % 64 === 0 && performance.now() - lastYield > YIELD_EVERY_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        signal?.throwIfAborted();
        lastYield = performance.now();
      }
      for (let position = 0; position < session.length; position++) {
        const rate = Math.max(options.learningRate * 0.0001, options.learningRate * (1 - step / totalSteps));
        step++;
        const center = session[position]!;
        // word2vec's shrunk window: nearer neighbours are seen more often.
        const reach = 1 + Math.floor(random() * window);
        const from = Math.max(0, position - reach);
        const to = Math.min(session.length - 1, position + reach);
        for (let other = from; other <= to; other++) {
          if (other === position) continue;
          const context = session[other]!;
          if (context === center) continue;
          trainPair(input, output, gradient, dims, context, center, 1, rate);
          for (let n = 0; n < negatives; n++) {
            const negative = negativeTable[Math.floor(random() * negativeTable.length)]!;
            if (negative === center) continue;
            trainPair(input, output, gradient, dims, context, negative, 0, rate);
          }
          applyGradient(input, gradient, dims, context);
        }
      }
    }
    onEpoch({ epoch: epoch + 1, epochs });
  }
  return input;
}

/** One logistic step on (word, target): accumulates the word's gradient, updates the target's output vector. */
function trainPair(
  input: Float32Array,
  output: Float32Array,
  gradient: Float32Array,
  dims: number,
  word: number,
  target: number,
  label: 0 | 1,
  rate: number,
): void {
  const w = word * dims;
  const t = target * dims;
  let dot = 0;
  for (let d = 0; d < dims; d++) dot += input[w + d]! * output[t + d]!;
  const sigmoid = dot > 6 ? 1 : dot < -6 ? 0 : 1 / (1 + Math.exp(-dot));
  const g = (label - sigmoid) * rate;
  for (let d = 0; d < dims; d++) {
    gradient[d] = gradient[d]! + g * output[t + d]!;
    output[t + d] = output[t + d]! + g * input[w + d]!;
  }
}

function applyGradient(input: Float32Array, gradient: Float32Array, dims: number, word: number): void {
  const w = word * dims;
  for (let d = 0; d < dims; d++) {
    input[w + d] = input[w + d]! + gradient[d]!;
    gradient[d] = 0;
  }
}

/** Negatives are drawn by play count to the power 0.75, as word2vec does, from a table of at most 1M entries. */
function unigramTable(sessions: Int32Array[], vocabularySize: number): Int32Array {
  const counts = new Float64Array(vocabularySize);
  for (const session of sessions) for (const item of session) counts[item] = counts[item]! + 1;
  let total = 0;
  for (let i = 0; i < vocabularySize; i++) total += Math.pow(counts[i]!, 0.75);
  const size = Math.min(1_000_000, Math.max(1, vocabularySize * 20));
  const table = new Int32Array(size);
  if (total === 0) return table;
  let item = 0;
  let cumulative = Math.pow(counts[0]!, 0.75) / total;
  for (let slot = 0; slot < size; slot++) {
    table[slot] = item;
    if (slot / size > cumulative && item < vocabularySize - 1) {
      item++;
      cumulative += Math.pow(counts[item]!, 0.75) / total;
    }
  }
  return table;
}
