import { createMemoryStore } from '../../src/store/memory.js';
import { storeConformance } from './conformance.js';

storeConformance('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));
