// Tests of ../../firestore.rules with @firebase/rules-unit-testing.
//
// They need the official Firestore emulator (firebase emulators:start --only firestore, Java 21), reached
// through FIRESTORE_EMULATOR_HOST. The npm @firestore-emulator/server of the local stack enforces no rules
// and serves gRPC only, so the suite is skipped, with the reason, whenever the emulator at that address
// does not accept security rules over its REST API.
//
//   cd tests/rules && npm ci && FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 npm test

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, describe, test } from "node:test";

import { assertFails, assertSucceeds, initializeTestEnvironment } from "@firebase/rules-unit-testing";
import { collection, deleteDoc, doc, getDoc, getDocs, query, setDoc, updateDoc, where } from "firebase/firestore";

const PROJECT_ID = "demo-acehooks-rules";
const RULES = readFileSync(new URL("../../firestore.rules", import.meta.url), "utf8");
const PROBE_TIMEOUT_MS = 3000;

// Return why the suite cannot run against the emulator at FIRESTORE_EMULATOR_HOST, or false when it can.
async function skipReason() {
  const host = process.env.FIRESTORE_EMULATOR_HOST;
  if (!host) {
    return "FIRESTORE_EMULATOR_HOST is not set; start the official emulator (firebase emulators:start --only firestore, needs Java 21)";
  }
  try {
    await fetch(`http://${host}/emulator/v1/projects/${PROJECT_ID}:securityRules`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ rules: { files: [{ name: "firestore.rules", content: RULES }] } }),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    // Only the official emulator sends an HTTP response here. A ruleset it rejects fails the tests below.
    return false;
  } catch (error) {
    return `the emulator at ${host} does not accept security rules over REST (${error.cause?.code ?? error.name}); ` +
      "it is not the official Firestore emulator";
  }
}

const reason = await skipReason();

describe("firestore.rules", { skip: reason }, () => {
  let testEnv;

  before(async () => {
    const [host, port] = process.env.FIRESTORE_EMULATOR_HOST.split(":");
    testEnv = await initializeTestEnvironment({
      projectId: PROJECT_ID,
      firestore: { rules: RULES, host, port: Number(port) },
    });
  });

  after(async () => {
    await testEnv?.cleanup();
  });

  beforeEach(async () => {
    await testEnv.clearFirestore();
    await testEnv.withSecurityRulesDisabled(async (context) => {
      const db = context.firestore();
      await setDoc(doc(db, "webhook_events/stripe_webhook-evt_1-0123456789abcdef"), {
        endpoint: "stripe_webhook", eventId: "evt_1", status: "succeeded", attempts: 1,
      });
      await setDoc(doc(db, "webhook_events/stripe_webhook-evt_1-0123456789abcdef/claims/1"), { generation: 1 });
      await setDoc(doc(db, "payments/cs_alice"), {
        uid: "alice", customerEmail: "alice@example.com", amountTotal: 2500,
      });
      await setDoc(doc(db, "payments/cs_bob"), { uid: "bob", customerEmail: "bob@example.com", amountTotal: 900 });
      await setDoc(doc(db, "products/tea"), { name: "Tea", price: 450 });
      await setDoc(doc(db, "orders/SO-1"), { uid: "alice", status: "shipped" });
    });
  });

  const admin = () => testEnv.authenticatedContext("admin-user", { admin: true }).firestore();
  const alice = (token = {}) => testEnv.authenticatedContext("alice", token).firestore();
  const stranger = () => testEnv.authenticatedContext("mallory", { email: "mallory@example.com", email_verified: true }).firestore();
  const anonymous = () => testEnv.unauthenticatedContext().firestore();
  const eventPath = "webhook_events/stripe_webhook-evt_1-0123456789abcdef";

  describe("webhook_events", () => {
    test("admin reads an event", async () => {
      const snapshot = await assertSucceeds(getDoc(doc(admin(), eventPath)));
      assert.equal(snapshot.data().status, "succeeded");
    });

    test("admin lists events", async () => {
      const snapshot = await assertSucceeds(getDocs(collection(admin(), "webhook_events")));
      assert.equal(snapshot.size, 1);
    });

    test("signed-in user without admin claim cannot read", async () => {
      await assertFails(getDoc(doc(alice(), eventPath)));
      await assertFails(getDoc(doc(testEnv.authenticatedContext("carol", { admin: "true" }).firestore(), eventPath)));
    });

    test("anonymous caller cannot read", async () => {
      await assertFails(getDoc(doc(anonymous(), eventPath)));
    });

    test("admin cannot create, update or delete", async () => {
      await assertFails(setDoc(doc(admin(), "webhook_events/new"), { status: "received" }));
      await assertFails(updateDoc(doc(admin(), eventPath), { status: "failed" }));
      await assertFails(deleteDoc(doc(admin(), eventPath)));
    });

    test("admin cannot read the claims subcollection", async () => {
      await assertFails(getDoc(doc(admin(), `${eventPath}/claims/1`)));
    });
  });

  describe("payments", () => {
    test("owner by uid reads", async () => {
      await assertSucceeds(getDoc(doc(alice(), "payments/cs_alice")));
    });

    test("verified email owner reads", async () => {
      const db = testEnv.authenticatedContext("alice-other-uid", { email: "alice@example.com", email_verified: true }).firestore();
      await assertSucceeds(getDoc(doc(db, "payments/cs_alice")));
    });

    test("unverified email owner cannot read", async () => {
      const db = testEnv.authenticatedContext("alice-other-uid", { email: "alice@example.com", email_verified: false }).firestore();
      await assertFails(getDoc(doc(db, "payments/cs_alice")));
    });

    test("other user cannot read", async () => {
      await assertFails(getDoc(doc(stranger(), "payments/cs_alice")));
    });

    test("anonymous caller cannot read", async () => {
      await assertFails(getDoc(doc(anonymous(), "payments/cs_alice")));
    });

    test("query filtered on own uid succeeds", async () => {
      const db = alice();
      const snapshot = await assertSucceeds(getDocs(query(collection(db, "payments"), where("uid", "==", "alice"))));
      assert.deepEqual(snapshot.docs.map((document) => document.id), ["cs_alice"]);
    });

    test("unfiltered query fails", async () => {
      await assertFails(getDocs(collection(alice(), "payments")));
    });

    test("owner cannot write", async () => {
      await assertFails(updateDoc(doc(alice(), "payments/cs_alice"), { amountTotal: 1 }));
      await assertFails(setDoc(doc(alice(), "payments/cs_new"), { uid: "alice" }));
    });
  });

  describe("products", () => {
    test("signed-in user reads", async () => {
      await assertSucceeds(getDoc(doc(alice(), "products/tea")));
    });

    test("anonymous caller cannot read", async () => {
      await assertFails(getDoc(doc(anonymous(), "products/tea")));
    });

    test("signed-in user cannot write", async () => {
      await assertFails(setDoc(doc(alice(), "products/tea"), { price: 1 }));
    });
  });

  describe("other collections", () => {
    test("admin can neither read nor write a collection without rules", async () => {
      await assertFails(getDoc(doc(admin(), "orders/SO-1")));
      await assertFails(setDoc(doc(admin(), "users/alice"), { name: "Alice" }));
    });
  });
});
