import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { ChangedPath } from './inspect.js';

// Which changed paths a contract allows. Pure: table-tested, and forbidden always wins over allowed.

/** Credential files: never touched by a backend, whatever the contract allows. */
export const CREDENTIAL_GLOBS = [
  '**/.env', '**/.env.*', '**/*.pem', '**/*.key', '**/*.p12', '**/*.pfx', '**/*.keystore', '**/*.jks',
  '**/id_rsa*', '**/id_dsa*', '**/id_ecdsa*', '**/id_ed25519*', '**/.ssh/**', '**/.aws/**', '**/.gnupg/**',
  '**/.npmrc', '**/.yarnrc', '**/.yarnrc.yml', '**/.pypirc', '**/.netrc', '**/.git-credentials', '**/.docker/config.json',
  '**/credentials', '**/credentials.*', '**/secrets.*', '**/*.secret', '**/*.secrets',
];

/** Infrastructure and repository configuration: CI, deploy, Terraform, Kubernetes, git's own files. */
export const INFRA_GLOBS = [
  '.github/workflows/**', '.github/actions/**', '.gitlab-ci.yml', '.gitlab/**', '.circleci/**', 'Jenkinsfile', '**/Jenkinsfile',
  '.buildkite/**', 'azure-pipelines.yml', '.travis.yml', 'bitbucket-pipelines.yml', '.drone.yml',
  '**/*.tf', '**/*.tfvars', '**/*.tf.json', '**/.terraform/**', '**/terraform.tfstate*', '**/.terraform.lock.hcl',
  '**/k8s/**', '**/kubernetes/**', '**/helm/**', '**/charts/**', '**/Chart.yaml', '**/kustomization.yaml', '**/kustomization.yml',
  '**/docker-compose*.yml', '**/docker-compose*.yaml', '**/compose.yml', '**/compose.yaml', '**/Dockerfile', '**/Dockerfile.*',
  '**/serverless.yml', '**/Pulumi.yaml', '**/Pulumi.*.yaml', '**/cloudformation/**', '**/ansible/**', '**/playbook*.yml',
  '.gitattributes', '**/.gitattributes', '.gitmodules', '**/.gitmodules', '.git/**',
  // Hooks that live in the tree and run at the operator's next commit or checkout (THREATS.md 2:
  // the hooks dir is read-only, these are not), and git-lfs's in-tree config (where objects go).
  '**/.husky/**', '.pre-commit-config.yaml', '.pre-commit-hooks.yaml', 'lefthook.yml', 'lefthook.yaml', '.lefthook.yml', '.lefthook.yaml', 'lefthook-local.yml', '.lfsconfig',
  // Who must review what, and the repository's settings as code (Probot settings, Dependabot).
  'CODEOWNERS', '.github/CODEOWNERS', 'docs/CODEOWNERS', '.gitlab/CODEOWNERS', '.github/settings.yml', '.github/dependabot.yml',
  // Run when the operator opens or enters the checkout: editor tasks, dev containers, direnv.
  '**/.vscode/tasks.json', '**/.vscode/settings.json', '**/.vscode/launch.json', '.devcontainer/**', '**/devcontainer.json', '.gitpod.yml', '**/.envrc',
];

/** A manifest is infrastructure by its content too: a YAML or JSON document with apiVersion and kind. */
export function looksLikeKubernetesManifest(text: string): boolean {
  const yaml = /^\s*apiVersion:\s*\S/m.test(text) && /^\s*kind:\s*\S/m.test(text);
  const json = /"apiVersion"\s*:/.test(text) && /"kind"\s*:/.test(text);
  return yaml || json;
}

/**
 * Characters that make a change read otherwise than it runs: a terminal escape, a carriage return
 * not ending a CRLF line (JavaScript and Python take it as a line break, a terminal returns over
 * what came before it), and the bidi embedding, override and isolate controls of Trojan Source
 * (CVE-2021-42574). A reviewer reading patch.diff would not see the code they hide.
 */
const HIDES_TEXT = /\u001b|\r(?!\n)|[\u202a-\u202e\u2066-\u2069]/;

/** What contentOf gives for a file too large to read for the check: judged as unreadable, refused. */
export const TOO_LARGE = Symbol('too large to inspect');
/** What contentOf gives for a file the harness cannot read (a non-root harness, a file the backend chmod'ed 000). */
export const UNREADABLE = Symbol('unreadable');

export type PathVerdict = { path: string; change: string; verdict: 'allowed' | 'forbidden' | 'disallowed' | 'not-captured'; why: string };

// Forbidden sets match case-insensitively (a `.ENV` is still a credential); allowed globs match exact bytes.
const matchCredential = picomatch(CREDENTIAL_GLOBS, { dot: true, nocase: true });
const matchInfra = picomatch(INFRA_GLOBS, { dot: true, nocase: true });

/**
 * A path as a case-insensitive file system may take it (macOS: APFS folds case by Unicode's rules,
 * HFS+ also skips ignorable code points): compatibility forms composed (the long s `ſ` is `s`, the
 * Kelvin sign is `K`), ignorable code points (zero-width joiners, bidi marks) dropped, lower-cased.
 * picomatch's nocase is ASCII-only: `.gitattributeſ` and `id_rſa` are another name to it and the
 * same file to the operator's Mac.
 */
export function foldPath(path: string): string {
  return path.normalize('NFKC').replace(/\p{Default_Ignorable_Code_Point}/gu, '').toLowerCase();
}
const isCredential = (path: string) => matchCredential(path) || matchCredential(foldPath(path));
const isInfra = (path: string) => matchInfra(path) || matchInfra(foldPath(path));

export function judgePaths(paths: readonly ChangedPath[], allowedGlobs: readonly string[], contentOf: (path: string) => string | null | typeof TOO_LARGE | typeof UNREADABLE): PathVerdict[] {
  const isAllowed = picomatch([...allowedGlobs], { dot: true, nocase: false, nonegate: true });
  return paths.map((p) => {
    const base = { path: p.path, change: p.change };
    if (p.unreviewable) return { ...base, verdict: 'disallowed', why: p.unreviewable };
    if (isCredential(p.path)) return { ...base, verdict: 'forbidden', why: 'a credential file' };
    if (isInfra(p.path)) return { ...base, verdict: 'forbidden', why: 'an infrastructure or repository configuration file' };
    if (p.link && !p.link.outside) {
      // A link is what it reaches: in the operator's checkout (or a deploy serving its dir) `src/env.txt`
      // -> `../.env` is their untracked .env, even where the worktree has none.
      const reaches = posix.normalize(posix.join(posix.dirname(p.path), p.link.target));
      if (isCredential(reaches)) return { ...base, verdict: 'forbidden', why: `a symlink to a credential file (-> ${p.link.target})` };
      if (isInfra(reaches)) return { ...base, verdict: 'forbidden', why: `a symlink to an infrastructure or repository configuration file (-> ${p.link.target})` };
    }
    if (/\.(ya?ml|json)$/i.test(p.path) && p.change !== 'deleted') {
      const text = contentOf(p.path);
      if (text === TOO_LARGE) return { ...base, verdict: 'disallowed', why: 'too large to check for a Kubernetes manifest' };
      if (typeof text === 'string' && looksLikeKubernetesManifest(text)) return { ...base, verdict: 'forbidden', why: 'a Kubernetes manifest' };
    }
    if (p.change !== 'deleted' && p.change !== 'ignored' && !p.link) {
      const text = contentOf(p.path);
      if (text === UNREADABLE) return { ...base, verdict: 'disallowed', why: 'a file the harness cannot read, so cannot judge' };
      if (text === TOO_LARGE) return { ...base, verdict: 'disallowed', why: 'too large to check for characters that hide code from a reader' };
      if (typeof text === 'string' && HIDES_TEXT.test(text)) {
        return { ...base, verdict: 'disallowed', why: 'content with characters that hide code from a reader (an escape sequence, a lone carriage return, bidi controls)' };
      }
    }
    if (p.link?.outside) return { ...base, verdict: 'disallowed', why: `a symlink out of the worktree (-> ${p.link.target})` };
    if (p.change === 'ignored') return { ...base, verdict: 'not-captured', why: 'ignored by git, so the patch would not carry it' };
    if (!isAllowed(p.path)) return { ...base, verdict: 'disallowed', why: `outside the allowed paths (${allowedGlobs.join(', ')})` };
    return { ...base, verdict: 'allowed', why: 'inside the allowed paths' };
  });
}
